"""The professionals' web login (OpenID Connect, authorization code with PKCE S256, state and nonce), its
checks one by one, against a real local provider (deploy/local/oidc.py) served from a thread. The pages that
say each refusal, and the whole login through identity, are in tests/e2e/test_pro_pages.py (FastAPI's
TestClient hangs in this suite: see tests/e2e/test_served_contract.py)."""

import json
from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import httpx
import jwt
import pytest

from deploy.local.oidc import Provider, s256
from services.common.settings import Settings
from services.gateway.pages import oidc
from tests.identities import make_rpps

CALLBACK = "http://127.0.0.1/pro/login/callback"


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[Provider]:
    started = Provider("dmp-test").start()
    monkeypatch.setenv("DMP_TRUSTED_ISSUERS", json.dumps([started.trusted_issuer]))
    monkeypatch.delenv("DMP_PRO_OIDC_ISSUER", raising=False)
    oidc._discovery.cache_clear()
    yield started
    started.close()
    oidc._discovery.cache_clear()


def login_at(provider: Provider, rpps: str) -> tuple[oidc.Flow, dict[str, str]]:
    """Start a login and log in at the provider: the flow and the provider's answer (the callback's query)."""
    flow = oidc.Flow.start(provider.url, CALLBACK, oidc.now())
    url = oidc.authorization_url(oidc.login_issuer(Settings.load()), flow)
    asked = {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
    assert httpx.get(url).status_code == 200
    answer = httpx.post(url.split("?")[0], data={**asked, "rpps": rpps})
    assert answer.status_code == 303 and answer.headers["location"].startswith(f"{CALLBACK}?")
    return flow, {k: v[0] for k, v in parse_qs(urlparse(answer.headers["location"]).query).items()}


def reason(error: pytest.ExceptionInfo[oidc.LoginRefused]) -> str:
    return error.value.reason


def test_the_authorization_request_carries_pkce_s256_state_and_nonce(provider: Provider) -> None:
    flow = oidc.Flow.start(provider.url, CALLBACK, oidc.now())
    asked = {
        k: v[0]
        for k, v in parse_qs(
            urlparse(oidc.authorization_url(oidc.login_issuer(Settings.load()), flow)).query
        ).items()
    }
    assert asked["code_challenge_method"] == "S256" and asked["code_challenge"] == s256(
        flow.verifier
    )
    assert (
        asked["state"] == flow.state and asked["nonce"] == flow.nonce and flow.state != flow.nonce
    )
    assert (
        asked["client_id"] == "dmp-test"
        and asked["redirect_uri"] == CALLBACK
        and asked["scope"] == "openid"
    )
    assert len(flow.verifier) >= 43 and len(flow.state) >= 32


def test_the_right_answer_gives_an_id_token_carrying_the_nonce(provider: Provider) -> None:
    rpps = make_rpps()
    flow, answer = login_at(provider, rpps)
    id_token = oidc.exchange(
        Settings.load(), oidc.login_issuer(Settings.load()), flow, oidc.check_answer(flow, answer)
    )
    published = httpx.get(f"{provider.url}/jwks").json()
    assert [key["kid"] for key in published["keys"]] == [jwt.get_unverified_header(id_token)["kid"]]
    decoded = jwt.decode(id_token, options={"verify_signature": False})
    assert (
        decoded["nonce"] == flow.nonce
        and decoded["SubjectNameID"] == f"8{rpps}"
        and decoded["aud"] == "dmp-test"
    )


def test_an_answer_with_another_state_is_refused(provider: Provider) -> None:
    flow, answer = login_at(provider, make_rpps())
    with pytest.raises(oidc.LoginRefused) as refused:
        oidc.check_answer(flow, {**answer, "state": "the-state-of-another-login"})
    assert reason(refused) == "state"


def test_an_answer_naming_another_issuer_is_refused(provider: Provider) -> None:
    flow, answer = login_at(provider, make_rpps())
    with pytest.raises(oidc.LoginRefused) as refused:
        oidc.check_answer(flow, {**answer, "iss": "https://untrusted.example"})
    assert reason(refused) == "issuer"


def test_a_replayed_code_is_refused(provider: Provider) -> None:
    flow, answer = login_at(provider, make_rpps())
    code = oidc.check_answer(flow, answer)
    oidc.exchange(Settings.load(), oidc.login_issuer(Settings.load()), flow, code)
    with pytest.raises(oidc.LoginRefused) as refused:
        oidc.exchange(Settings.load(), oidc.login_issuer(Settings.load()), flow, code)
    assert reason(refused) == "code" and "already used" in refused.value.detail


def test_a_wrong_code_verifier_is_refused(provider: Provider) -> None:
    flow, answer = login_at(provider, make_rpps())
    forged = oidc.Flow(
        flow.issuer, flow.state, flow.nonce, "x" * 64, flow.redirect_uri, flow.started
    )
    with pytest.raises(oidc.LoginRefused) as refused:
        oidc.exchange(
            Settings.load(),
            oidc.login_issuer(Settings.load()),
            forged,
            oidc.check_answer(flow, answer),
        )
    assert reason(refused) == "code" and "code_verifier" in refused.value.detail


def test_a_code_for_another_redirect_uri_is_refused(provider: Provider) -> None:
    flow, answer = login_at(provider, make_rpps())
    elsewhere = oidc.Flow(
        flow.issuer, flow.state, flow.nonce, flow.verifier, "http://127.0.0.1/x", flow.started
    )
    with pytest.raises(oidc.LoginRefused) as refused:
        oidc.exchange(
            Settings.load(),
            oidc.login_issuer(Settings.load()),
            elsewhere,
            oidc.check_answer(flow, answer),
        )
    assert reason(refused) == "code"


def test_an_error_answer_says_why(provider: Provider) -> None:
    flow = oidc.Flow.start(provider.url, CALLBACK, oidc.now())
    with pytest.raises(oidc.LoginRefused) as refused:
        oidc.check_answer(
            flow, {"state": flow.state, "error": "access_denied", "error_description": "cancelled"}
        )
    assert reason(refused) == "provider" and refused.value.detail == "cancelled"


@pytest.mark.parametrize("cookie", [None, "", "not base64 json", "e30=", "x" * 3000])
def test_no_flow_or_a_broken_one_is_no_login(cookie: str | None) -> None:
    with pytest.raises(oidc.LoginRefused) as refused:
        oidc.Flow.from_cookie(cookie, oidc.now())
    assert reason(refused) == "no_login"


def test_a_flow_left_too_long_is_no_login() -> None:
    flow = oidc.Flow.start("https://issuer.example", CALLBACK, oidc.now() - oidc.FLOW_SECONDS - 1)
    with pytest.raises(oidc.LoginRefused) as refused:
        oidc.Flow.from_cookie(flow.cookie(), oidc.now())
    assert reason(refused) == "no_login"
    fresh = oidc.Flow.start("https://issuer.example", CALLBACK, oidc.now())
    assert oidc.Flow.from_cookie(fresh.cookie(), oidc.now()) == fresh


def test_a_login_issuer_that_is_not_trusted_is_refused(
    provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DMP_PRO_OIDC_ISSUER", "https://untrusted.example")
    with pytest.raises(oidc.LoginRefused) as refused:
        oidc.login_issuer(Settings.load())
    assert reason(refused) == "misconfigured"


def test_an_unreachable_provider_is_unavailable_and_not_remembered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gone = Provider("dmp-test")
    gone.server.server_close()  # never served: nothing answers at its address
    monkeypatch.setenv("DMP_TRUSTED_ISSUERS", json.dumps([gone.trusted_issuer]))
    oidc._discovery.cache_clear()
    with pytest.raises(oidc.LoginRefused) as refused:
        oidc.discovery(gone.url)
    assert reason(refused) == "unavailable" and oidc._discovery.cache_info().currsize == 0


@pytest.mark.parametrize(
    "problem, change",
    [
        ("PKCE", {"code_challenge_method": "plain"}),
        ("PKCE", {"code_challenge": ""}),
        ("client_id", {"client_id": "someone"}),
        ("state and nonce", {"nonce": ""}),
    ],
)
def test_the_provider_refuses_an_authorization_request_without_pkce_or_state(
    provider: Provider,
    problem: str,
    change: dict[str, str],
) -> None:
    flow = oidc.Flow.start(provider.url, CALLBACK, oidc.now())
    asked = {
        k: v[0]
        for k, v in parse_qs(
            urlparse(oidc.authorization_url(oidc.login_issuer(Settings.load()), flow)).query
        ).items()
    }
    answer = httpx.get(f"{provider.url}/authorize", params={**asked, **change})
    assert answer.status_code == 400 and problem in answer.text
