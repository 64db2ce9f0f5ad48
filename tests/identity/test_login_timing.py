"""Issue 17, item 6: asking for a login code and checking one do the same work whether or not the INS is
registered, so that no answer is measurably slower for a registered patient. The work is counted, not
timed: the store commands identity sends while it answers (a pymongo command listener), and what it
publishes before answering (the code's delivery to notify goes out after the answer, for both)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from pymongo import monitoring

from services.common.errors import Unauthenticated
from tests.identities import registration
from tests.mailbox import LOGIN_CODE, Mailbox
from tests.store_commands import listening


class IdentityCommands(monitoring.CommandListener):
    """(command, collection) of identity's store commands while `recording`, the background work's aside."""

    def __init__(self) -> None:
        self.recording = False
        self.seen: Counter[tuple[str, str]] = Counter()
        self.lock = threading.Lock()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if not self.recording or not event.database_name.endswith("_identity"):
            return
        command = dict(event.command)
        if "_outbox_pending" in str(command.get("filter") or command.get("updates") or ""):
            return  # the relay, woken by a write, runs beside the answer
        if command.get("find") == "ended_sessions":
            return  # a verifier loading the ended sessions (services/common/sessions.py), beside the answer
        with self.lock:
            self.seen[(event.command_name, str(command.get(event.command_name)))] += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def during(self, call: Any) -> Counter[tuple[str, str]]:
        self.seen = Counter()
        self.recording = True
        try:
            call()
        finally:
            self.recording = False
        return self.seen


@pytest.fixture
def commands() -> Iterator[IdentityCommands]:
    listener = IdentityCommands()
    with listening(listener):
        yield listener


def refused(call: Any) -> Any:
    def attempt() -> None:
        with pytest.raises(Unauthenticated):
            call()

    return attempt


def test_login_code_request_and_check_do_the_same_work_for_a_registered_and_an_unknown_ins(
    commands: IdentityCommands,
    cluster: Any,
    smtp_server: Mailbox,
) -> None:
    known = registration(email="minutage@patients.dmp-test.fr")
    cluster.identity.register_patient(known)
    unknown = registration(email="personne@patients.dmp-test.fr")["ins"]  # never registered

    def request(ins: str, address: str) -> Counter[tuple[str, str]]:
        return commands.during(lambda: cluster.identity.request_login_code({"ins": ins}, address))

    def check(ins: str, address: str) -> Counter[tuple[str, str]]:
        return commands.during(
            refused(
                lambda: cluster.identity.login_with_code({"ins": ins, "code": "000000"}, address)
            )
        )

    first = request(
        known["ins"], "10.0.0.1"
    )  # a code is made (and, for the patient, sent after the answer)
    assert first == request(unknown, "10.0.0.2") and ("insert", "login_codes") in first
    smtp_server.wait_for(known["email"], 1, LOGIN_CODE)
    again = request(known["ins"], "10.0.0.3")  # within a minute: the code on file is still valid
    assert again == request(unknown, "10.0.0.4") and ("insert", "login_codes") not in again
    assert check(known["ins"], "10.0.0.5") == check(unknown, "10.0.0.6") != Counter()


def test_an_unknown_ins_gets_no_mail_and_its_decoy_code_logs_nobody_in(
    cluster: Any, smtp_server: Mailbox
) -> None:
    unknown = registration(email="fantome@patients.dmp-test.fr")
    cluster.identity.request_login_code({"ins": unknown["ins"]}, "10.0.1.1")
    for _ in range(5):
        with pytest.raises(Unauthenticated):
            cluster.identity.login_with_code({"ins": unknown["ins"], "code": "123456"}, "10.0.1.1")
    assert smtp_server.messages(unknown["email"], LOGIN_CODE) == []
