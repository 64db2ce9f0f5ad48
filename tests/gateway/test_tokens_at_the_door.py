"""The bearer token at the gateway: verified once per request, refused with a 401 (and a trace) when it is
missing, forged or of an ended session."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import jwt
import pytest

from services.common.clock import utcnow
from services.common.events import Event
from services.common.keys import SigningKey
from services.common.rpc_client import OnwardCluster
from services.common.settings import Settings
from services.common.signatures import SIGNING_KEY, signing_variable
from services.common.tokens import Verified, issue, received_by, verified, verify
from services.gateway import auth, rpc
from services.gateway.app_settings import keep
from tests.gateway.conftest import INS, PATIENT, Calls, Gateway

STATUS = {"dossier_id": "dos_1", "status": "open", "opened_at": "2026-11-20T09:30:00Z"}


def test_a_requests_token_is_verified_once_for_the_rate_limit_and_the_route(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[str] = []

    def counted(token: object, settings: Settings) -> Verified:
        checked.append(str(token))
        return verified(token, settings)

    monkeypatch.setattr(auth, "verified", counted)
    gateway.cluster.dossier = Calls(status=STATUS)
    answer = gateway.client.get(f"/api/v1/patients/{INS}/dossier", headers=gateway.bearer(PATIENT))
    assert answer.status_code == 200
    assert len(checked) == 1


def test_the_service_called_gets_a_credential_minted_from_the_requests_one_verification(
    gateway: Gateway, secrets: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    del gateway.app.dependency_overrides[
        rpc.cluster
    ]  # the gateway's own cluster, over fake services
    dossier = Calls(status=STATUS)
    monkeypatch.setattr(
        rpc,
        "services",
        lambda: OnwardCluster(SimpleNamespace(dossier=dossier), "gateway", Settings.load()),
    )
    monkeypatch.setenv(SIGNING_KEY, secrets[signing_variable("gateway")])
    keep(gateway.app, Settings.load())  # the gateway as started with its signing key
    decoded: list[str] = []
    decode = jwt.decode

    def counted(token: str, *args: Any, **kwargs: Any) -> Any:
        decoded.append(token)
        return decode(token, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counted)
    answer = gateway.client.get(f"/api/v1/patients/{INS}/dossier", headers=gateway.bearer(PATIENT))
    assert answer.status_code == 200
    assert len(decoded) == 1  # the access token's signature, once: not again to mint the credential
    ((_, (handed, _)),) = dossier.calls
    with received_by("dossier"):
        assert verify(handed, Settings.load()) == PATIENT


def test_a_request_without_a_token_is_401_with_the_bearer_challenge(gateway: Gateway) -> None:
    answer = gateway.client.get(f"/api/v1/patients/{INS}/dossier")
    assert (answer.status_code, answer.headers["WWW-Authenticate"]) == (401, "Bearer")
    assert answer.json()["code"] == "unauthenticated"


def test_a_forged_token_is_refused_and_the_refusal_traced_with_the_route_template(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    traced: list[Event] = []
    monkeypatch.setattr(auth, "trace_refusal", lambda settings, event: traced.append(event))
    forger = SigningKey.generate(gateway.key.kid)  # the right key id, another key
    forged = issue(PATIENT, forger, Settings.load(), utcnow())
    answer = gateway.client.get(
        f"/api/v1/patients/{INS}/dossier", headers={"Authorization": f"Bearer {forged}"}
    )
    assert (answer.status_code, answer.json()["detail"]) == (401, "the access token is not valid")
    assert [(event.rule, event.data["route"]) for event in traced] == [
        ("R-TOKEN", "/patients/{ins}/dossier")
    ]


def test_after_logout_the_sessions_token_is_refused_at_once(gateway: Gateway) -> None:
    gateway.cluster.identity = identity = Calls(logout={"status": "logged_out"})
    gateway.cluster.dossier = Calls(status=STATUS)
    headers = gateway.bearer(PATIENT)
    refresh = "r" * 40
    assert (
        gateway.client.post(
            "/api/v1/logout", json={"refresh_token": refresh}, headers=headers
        ).status_code
        == 204
    )
    assert identity.calls[0][1][1] == {"refresh_token": refresh}
    answer = gateway.client.get(f"/api/v1/patients/{INS}/dossier", headers=headers)
    assert (answer.status_code, answer.json()["detail"]) == (
        401,
        "this session was ended; log in again",
    )
