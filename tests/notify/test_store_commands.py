"""Issue 19: what a notification costs notify's store, counted on the wire (pymongo's command monitoring, a
figure no load on the machine moves): the patient's preferences, the delivery written already claimed, its
fate. The retry job's periodic look-ups are not the notification's."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from pymongo import monitoring

from tests.conftest import People
from tests.journeys import eventually, submission
from tests.mailbox import ACCESS_NEWS, DOSSIER_NEWS, Mailbox
from tests.notify.test_delivery import patient_with_doctor
from tests.store_commands import listening

RETRY_JOB_FIELDS = {"next_ms", "claimed_ms"}  # what the retry job's look-ups select on


@dataclass
class NotifyCommands(monitoring.CommandListener):
    suffix: str = "_notify"
    sent: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if not event.database_name.endswith(self.suffix) or event.command_name not in {
            "find",
            "insert",
            "update",
        }:
            return
        selection = event.command.get("filter") or {}
        if RETRY_JOB_FIELDS & set(selection):
            return
        with self.lock:
            self.sent.append((event.command_name, str(event.command[event.command_name])))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def quiet(commands: NotifyCommands) -> int:
    """How many commands were sent, once none has been for a second."""
    seen = -1
    while seen != len(commands.sent):
        seen = len(commands.sent)
        time.sleep(1)
    return seen


@pytest.fixture
def commands() -> Iterator[NotifyCommands]:
    listener = NotifyCommands()
    with listening(listener):  # before the services start: their clients report to it
        yield listener


def test_a_document_notification_costs_three_store_commands(
    commands: NotifyCommands, cluster: Any, people: People, smtp_server: Mailbox
) -> None:
    email = "commands@patients.dmp-test.fr"
    ins, _, doctor = patient_with_doctor(cluster, people, email)
    smtp_server.wait_for(
        email, 1, ACCESS_NEWS
    )  # the set-up's own notification (the consent) is out...
    before = quiet(commands)  # ...and its fate recorded
    cluster.dossier.add_document(doctor, ins, submission(b"%PDF-1.4 counted"))
    smtp_server.wait_for(email, 1, DOSSIER_NEWS)
    sent = eventually(
        lambda: (
            commands.sent[before:] if ("update", "deliveries") in commands.sent[before:] else None
        )
    )
    assert sent == [("find", "preferences"), ("insert", "deliveries"), ("update", "deliveries")], (
        sent
    )
