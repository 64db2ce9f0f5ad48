"""Real login: one-time codes for patients (through notify, over SMTP) and card challenges for
professionals, with every refusal a user or an attacker would meet."""

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from services.common.clock import utcnow
from services.common.errors import AccessDenied, TooManyRequests, Unauthenticated
from services.common.settings import Settings
from services.common.tokens import verify
from tests.conftest import service_database
from tests.identities import Card, make_ins, make_rpps, registration
from tests.journeys import eventually
from tests.mailbox import LOGIN_CODE, Mailbox

ADDRESS = "192.0.2.10"


def register_patient(cluster: Any) -> tuple[str, str]:
    details = registration()
    cluster.identity.register_patient(details)
    return details["ins"], details["email"]


def codes(mailbox: Mailbox, email: str, count: int) -> list[str]:
    mails = mailbox.wait_for(email, count, LOGIN_CODE)
    found = [re.search(r"\b(\d{6})\b", m.get_content()) for m in mails]
    return [match.group(1) for match in found if match]


def request_code(cluster: Any, ins: str, address: str = ADDRESS) -> dict[str, Any]:
    result: dict[str, Any] = cluster.identity.request_login_code({"ins": ins}, address)
    return result


def test_patient_logs_in_with_the_code_received_by_email(
    cluster: Any, smtp_server: Mailbox, environment: dict[str, str]
) -> None:
    ins, email = register_patient(cluster)
    assert request_code(cluster, ins) == {"status": "sent_if_registered", "expires_in": 300}
    [code] = codes(smtp_server, email, 1)
    patients = service_database(environment, "identity").patients
    assert "email_verified" not in (patients.find_one({"ins": ins}) or {})
    token = cluster.identity.login_with_code({"ins": ins, "code": code}, ADDRESS)
    actor = verify(token["access_token"], Settings.load())
    assert actor.ins == ins and actor.kind == "patient"
    assert (patients.find_one({"ins": ins}) or {})["email_verified"]["at"] <= utcnow()


def test_unknown_ins_gets_the_same_answer_and_no_mail(cluster: Any, smtp_server: Mailbox) -> None:
    known, email = register_patient(cluster)
    assert request_code(cluster, make_ins()) == request_code(cluster, known)
    codes(smtp_server, email, 1)
    with pytest.raises(Unauthenticated) as unknown:
        cluster.identity.login_with_code({"ins": make_ins(), "code": "123456"}, ADDRESS)
    with pytest.raises(Unauthenticated) as wrong:
        cluster.identity.login_with_code({"ins": known, "code": "000000"}, ADDRESS)
    assert str(unknown.value) == str(wrong.value)


def test_code_is_single_use(cluster: Any, smtp_server: Mailbox) -> None:
    ins, email = register_patient(cluster)
    request_code(cluster, ins)
    [code] = codes(smtp_server, email, 1)
    cluster.identity.login_with_code({"ins": ins, "code": code}, ADDRESS)
    with pytest.raises(Unauthenticated):
        cluster.identity.login_with_code({"ins": ins, "code": code}, ADDRESS)


def test_five_wrong_codes_lock_the_code(cluster: Any, smtp_server: Mailbox) -> None:
    ins, email = register_patient(cluster)
    request_code(cluster, ins)
    [code] = codes(smtp_server, email, 1)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        with pytest.raises(Unauthenticated):
            cluster.identity.login_with_code({"ins": ins, "code": wrong}, ADDRESS)
    with pytest.raises(Unauthenticated):
        cluster.identity.login_with_code({"ins": ins, "code": code}, ADDRESS)


def test_expired_code_is_refused(
    cluster: Any, smtp_server: Mailbox, environment: dict[str, str]
) -> None:
    ins, email = register_patient(cluster)
    request_code(cluster, ins)
    [code] = codes(smtp_server, email, 1)
    store = service_database(environment, "identity")
    challenge = store.login_codes.find_one({})
    assert challenge is not None
    expired = {**challenge, "expires_at": utcnow() - timedelta(seconds=1)}
    store.login_codes.replace_one({"_id": challenge["_id"]}, expired)
    with pytest.raises(Unauthenticated, match="expired"):
        cluster.identity.login_with_code({"ins": ins, "code": code}, ADDRESS)


def test_codes_are_stored_hashed(
    cluster: Any, smtp_server: Mailbox, environment: dict[str, str]
) -> None:
    ins, email = register_patient(cluster)
    request_code(cluster, ins)
    [code] = codes(smtp_server, email, 1)
    store = service_database(environment, "identity")
    stored = store.login_codes.find_one({})
    assert stored is not None and code not in str(stored)


def test_resend_within_a_minute_sends_no_second_code(cluster: Any, smtp_server: Mailbox) -> None:
    ins, email = register_patient(cluster)
    request_code(cluster, ins)
    request_code(cluster, ins)
    codes(smtp_server, email, 1)
    cluster.identity.health()  # a round trip, so an unwanted second mail would have had time
    assert len(smtp_server.messages(email)) == 1


def test_requests_are_rate_limited_per_patient_known_or_not(cluster: Any) -> None:
    for ins in (register_patient(cluster)[0], make_ins()):
        for attempt in range(5):
            request_code(cluster, ins, address=f"198.51.100.{attempt}")
        with pytest.raises(TooManyRequests) as error:
            request_code(cluster, ins, address="198.51.100.99")
        assert 0 < int(error.value.details[0]["retry_after"]) <= 900


def test_requests_are_rate_limited_per_client_address(
    cluster: Any, monkeypatch: pytest.MonkeyPatch, restart_settings: Callable[[], None]
) -> None:
    monkeypatch.setenv("DMP_LOGIN_RATE_PER_ADDRESS", "30")
    restart_settings()
    for _ in range(30):
        request_code(cluster, make_ins(), address="203.0.113.7")
    with pytest.raises(TooManyRequests):
        request_code(cluster, make_ins(), address="203.0.113.7")


def test_first_access_code_is_sent_when_the_dossier_opens(
    cluster: Any, smtp_server: Mailbox
) -> None:
    ins, email = register_patient(cluster)
    rpps, card = make_rpps(), Card()
    cluster.identity.register_professional(
        {
            "rpps": rpps,
            "profession": "21",
            "given_name": "A",
            "family_name": "B",
            "card_public_key": card.public_pem,
        }
    )
    pharmacist = card_login(cluster, rpps, card)
    cluster.dossier.open(pharmacist, {"ins": ins, "patient_consent": True})
    [code] = codes(smtp_server, email, 1)
    assert (
        verify(
            cluster.identity.login_with_code({"ins": ins, "code": code}, ADDRESS)["access_token"],
            Settings.load(),
        ).ins
        == ins
    )


def signed(rpps: str, nonce: str, card: Card) -> dict[str, str]:
    return {"actor_id": f"rpps:{rpps}", "nonce": nonce, "signature": card.sign(nonce)}


def card_login(cluster: Any, rpps: str, card: Card) -> str:
    nonce = cluster.identity.request_card_challenge({"actor_id": f"rpps:{rpps}"}, ADDRESS)["nonce"]
    token: str = cluster.identity.login_with_card(signed(rpps, nonce, card), ADDRESS)[
        "access_token"
    ]
    return token


@pytest.fixture
def professional(cluster: Any) -> tuple[str, Card]:
    rpps, card = make_rpps(), Card()
    cluster.identity.register_professional(
        {
            "rpps": rpps,
            "profession": "10",
            "given_name": "Alex",
            "family_name": "Durand",
            "card_public_key": card.public_pem,
        }
    )
    return rpps, card


def test_professional_logs_in_by_signing_the_challenge(
    cluster: Any, professional: tuple[str, Card]
) -> None:
    rpps, card = professional
    actor = verify(card_login(cluster, rpps, card), Settings.load())
    assert actor.rpps == rpps and actor.profession == "10"


def test_signature_by_another_card_is_refused(cluster: Any, professional: tuple[str, Card]) -> None:
    rpps, _ = professional
    nonce = cluster.identity.request_card_challenge({"actor_id": f"rpps:{rpps}"}, ADDRESS)["nonce"]
    with pytest.raises(Unauthenticated, match="signature"):
        cluster.identity.login_with_card(signed(rpps, nonce, Card()), ADDRESS)


def test_challenge_is_single_use(cluster: Any, professional: tuple[str, Card]) -> None:
    rpps, card = professional
    nonce = cluster.identity.request_card_challenge({"actor_id": f"rpps:{rpps}"}, ADDRESS)["nonce"]
    attempt = signed(rpps, nonce, card)
    cluster.identity.login_with_card(attempt, ADDRESS)
    with pytest.raises(Unauthenticated, match="already used"):
        cluster.identity.login_with_card(attempt, ADDRESS)


def test_challenge_for_another_rpps_is_refused(
    cluster: Any, professional: tuple[str, Card]
) -> None:
    rpps, card = professional
    nonce = cluster.identity.request_card_challenge({"actor_id": f"rpps:{make_rpps()}"}, ADDRESS)[
        "nonce"
    ]
    with pytest.raises(Unauthenticated):
        cluster.identity.login_with_card(signed(rpps, nonce, card), ADDRESS)


def test_suspended_professional_cannot_log_in(cluster: Any, professional: tuple[str, Card]) -> None:
    rpps, card = professional
    cluster.identity.set_status(f"rpps:{rpps}", "suspended")
    with pytest.raises(AccessDenied) as error:
        card_login(cluster, rpps, card)
    assert error.value.details == [{"rule": "R-SUSPENDED"}]
    cluster.identity.set_status(f"rpps:{rpps}", "active")
    assert verify(card_login(cluster, rpps, card), Settings.load()).rpps == rpps


def test_logins_are_traced(
    cluster: Any, professional: tuple[str, Card], environment: dict[str, str]
) -> None:
    rpps, card = professional
    card_login(cluster, rpps, card)
    traces = service_database(environment, "audit").traces
    eventually(
        lambda: traces.find_one({"type": "logged_in", "actor.id": f"rpps:{rpps}"}) is not None
    )


def logged_in_patient(cluster: Any, smtp_server: Mailbox) -> dict[str, Any]:
    ins, email = register_patient(cluster)
    request_code(cluster, ins)
    [code] = codes(smtp_server, email, 1)
    session: dict[str, Any] = cluster.identity.login_with_code({"ins": ins, "code": code}, ADDRESS)
    return session


def test_refresh_gives_a_new_access_token_and_rotates(cluster: Any, smtp_server: Mailbox) -> None:
    session = logged_in_patient(cluster, smtp_server)
    assert session["refresh_expires_in"] == 12 * 3600
    renewed = cluster.identity.refresh({"refresh_token": session["refresh_token"]}, ADDRESS)
    assert verify(renewed["access_token"], Settings.load()) == verify(
        session["access_token"], Settings.load()
    )
    assert renewed["refresh_token"] != session["refresh_token"]
    cluster.identity.refresh({"refresh_token": renewed["refresh_token"]}, ADDRESS)


def test_replayed_refresh_token_ends_the_whole_session(cluster: Any, smtp_server: Mailbox) -> None:
    session = logged_in_patient(cluster, smtp_server)
    renewed = cluster.identity.refresh({"refresh_token": session["refresh_token"]}, ADDRESS)
    with pytest.raises(Unauthenticated, match="ended"):
        cluster.identity.refresh({"refresh_token": session["refresh_token"]}, ADDRESS)  # replay
    with pytest.raises(Unauthenticated):
        cluster.identity.refresh(
            {"refresh_token": renewed["refresh_token"]}, ADDRESS
        )  # the thief's too


def test_logout_revokes_the_refresh_token(cluster: Any, smtp_server: Mailbox) -> None:
    session = logged_in_patient(cluster, smtp_server)
    cluster.identity.logout(session["access_token"], {"refresh_token": session["refresh_token"]})
    with pytest.raises(Unauthenticated):
        cluster.identity.refresh({"refresh_token": session["refresh_token"]}, ADDRESS)


def test_refresh_tokens_are_stored_as_digests(
    cluster: Any, smtp_server: Mailbox, environment: dict[str, str]
) -> None:
    session = logged_in_patient(cluster, smtp_server)
    stored = list(service_database(environment, "identity").refresh_tokens.find({}))
    assert stored and session["refresh_token"] not in str(stored)


def test_professionals_get_no_refresh_token(cluster: Any, professional: tuple[str, Card]) -> None:
    rpps, card = professional
    nonce = cluster.identity.request_card_challenge({"actor_id": f"rpps:{rpps}"}, ADDRESS)["nonce"]
    session = cluster.identity.login_with_card(signed(rpps, nonce, card), ADDRESS)
    assert session["refresh_token"] is None
