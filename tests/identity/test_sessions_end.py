"""Ending a session (logout, a replayed refresh token) refuses its access tokens at once, at every
service and in any verifier started afterwards; the end is traced."""

from typing import Any

import jwt
import pytest
from nameko import config

from services.common.errors import DmpError, Unauthenticated
from services.common.rpc_client import RpcClient
from services.common.sessions import EndedSession, EndedSessions, SessionFeed
from services.common.settings import Settings
from services.common.tokens import verified
from tests.conftest import service_database
from tests.identity.test_login import ADDRESS, logged_in_patient
from tests.journeys import eventually
from tests.mailbox import Mailbox


def calls_with(cluster: Any, token: str, ins: str) -> list[Any]:
    """One call that verifies the token at each service that takes a patient's token."""
    return [
        lambda: cluster.dossier.status(token, ins),
        lambda: cluster.consent.settings(token, ins),
        lambda: cluster.audit.history(token, ins),
        lambda: cluster.identity.request_contact_change(
            token, ins, {"email": "new@patients.dmp-test.fr"}
        ),
    ]


def refused_everywhere(cluster: Any, token: str, ins: str) -> None:
    for call in calls_with(cluster, token, ins):
        with pytest.raises(Unauthenticated, match="session was ended"):
            call()


def accepted_everywhere(cluster: Any, token: str, ins: str) -> None:
    for call in calls_with(cluster, token, ins):
        try:
            call()
        except Unauthenticated:
            raise AssertionError("a live session's token was refused") from None
        except DmpError:
            pass  # refused for another reason (no dossier yet): the token itself was accepted


def session_id(session: dict[str, Any]) -> str:
    """The session the access token names (read without verifying: the replica decides)."""
    return str(jwt.decode(session["access_token"], options={"verify_signature": False})["sid"])


def is_ended(replica: EndedSessions, sid: str) -> bool:
    """Whether the replica refuses the session (a value `eventually` can retry on: a failed
    `pytest.raises` is not an AssertionError and would stop it at the first try)."""
    try:
        replica.check(sid)
    except Unauthenticated:
        return True
    return False


def load_from_identity() -> list[EndedSession]:
    with RpcClient(uri=config["AMQP_URI"], timeout=10, keys=Settings.load().bus_keys) as proxy:
        return [EndedSession.from_message(item) for item in proxy.identity.ended_sessions()]


def test_logout_refuses_the_access_token_at_every_service_at_once(
    cluster: Any, smtp_server: Mailbox
) -> None:
    session = logged_in_patient(cluster, smtp_server)
    token, ins = (
        session["access_token"],
        verified(session["access_token"], Settings.load()).actor.ins or "",
    )
    accepted_everywhere(cluster, token, ins)
    cluster.identity.logout(token, {"refresh_token": session["refresh_token"]})
    refused_everywhere(cluster, token, ins)


def test_a_replayed_refresh_token_refuses_every_access_token_of_the_session(
    cluster: Any, smtp_server: Mailbox
) -> None:
    session = logged_in_patient(cluster, smtp_server)
    ins = verified(session["access_token"], Settings.load()).actor.ins or ""
    renewed = cluster.identity.refresh(
        {"refresh_token": session["refresh_token"]}, ADDRESS
    )  # the thief's
    with pytest.raises(Unauthenticated):
        cluster.identity.refresh(
            {"refresh_token": session["refresh_token"]}, ADDRESS
        )  # the patient's, replayed
    refused_everywhere(cluster, renewed["access_token"], ins)
    refused_everywhere(cluster, session["access_token"], ins)


def test_a_verifier_started_after_the_logout_refuses_its_tokens(
    cluster: Any, smtp_server: Mailbox
) -> None:
    session = logged_in_patient(cluster, smtp_server)
    cluster.identity.logout(session["access_token"], {"refresh_token": session["refresh_token"]})
    replica = EndedSessions()  # a process of its own, which never saw the event
    feed = SessionFeed(config["AMQP_URI"], Settings.load().bus_keys, load_from_identity, replica)
    feed.start()
    try:
        with pytest.raises(Unauthenticated, match="session was ended"):
            replica.check(session_id(session))
    finally:
        feed.stop()


def test_a_running_verifier_hears_of_the_logout(cluster: Any, smtp_server: Mailbox) -> None:
    session = logged_in_patient(cluster, smtp_server)
    replica = EndedSessions()
    feed = SessionFeed(config["AMQP_URI"], Settings.load().bus_keys, load_from_identity, replica)
    feed.start()
    try:
        replica.check(session_id(session))  # loaded, and the session is live
        cluster.identity.logout(
            session["access_token"], {"refresh_token": session["refresh_token"]}
        )

        eventually(lambda: is_ended(replica, session_id(session)), seconds=5)
    finally:
        feed.stop()


def test_a_forged_session_end_logs_nobody_out(cluster: Any, smtp_server: Mailbox) -> None:
    """A session_ended not signed by identity is dropped; identity's own, published after it, is heard."""
    from datetime import timedelta

    from nameko.standalone.events import event_dispatcher as unsigned_dispatcher

    from services.common.clock import utcnow
    from services.common.events import Event, EventType
    from tests.journeys import event_dispatcher

    session = logged_in_patient(cluster, smtp_server)
    replica = EndedSessions()
    feed = SessionFeed(config["AMQP_URI"], Settings.load().bus_keys, load_from_identity, replica)
    feed.start()

    def ended(sid: str) -> dict[str, Any]:
        until = (utcnow() + timedelta(minutes=20)).isoformat()
        return Event(
            type=EventType.SESSION_ENDED,
            source="identity",
            occurred_at=utcnow(),
            data={"session_id": sid, "until": until},
        ).model_dump(mode="json")

    try:
        replica.check(session_id(session))
        unsigned_dispatcher(uri=config["AMQP_URI"])(
            "identity", "session_ended", ended(session_id(session))
        )
        event_dispatcher(config["AMQP_URI"])("identity", "session_ended", ended("ses_marker"))

        # a loaded machine: the signed marker may take a while
        eventually(lambda: is_ended(replica, "ses_marker"), seconds=20)
        replica.check(session_id(session))  # still live: the forged end was not believed
    finally:
        feed.stop()


def test_the_end_of_a_session_is_traced(
    cluster: Any, smtp_server: Mailbox, environment: dict[str, str]
) -> None:
    session = logged_in_patient(cluster, smtp_server)
    actor = verified(session["access_token"], Settings.load()).actor
    cluster.identity.logout(session["access_token"], {"refresh_token": session["refresh_token"]})
    traces = service_database(environment, "audit").traces
    trace = eventually(lambda: traces.find_one({"type": "session_ended", "patient_id": actor.id}))
    assert trace is not None and trace["data"]["reason"] == "logout"
