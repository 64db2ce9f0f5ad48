"""SMTP delivery against a server of the test's own: when the message is noted as handed over, and what
a refusal or a failed goodbye after the end of its data does."""

from __future__ import annotations

import smtplib
import socket
import threading
from collections.abc import Iterator
from typing import BinaryIO

import pytest

from services.common.settings import Settings
from services.notify import mailer
from services.notify.exceptions import PermanentFailure
from services.notify.messages import Message


class Relay:
    """A one-connection-at-a-time SMTP server speaking just enough of RFC 5321, whose answers to the
    end of DATA and to QUIT the test chooses; it counts the messages it accepted."""

    def __init__(self, end_of_data: str, goodbye: str | None) -> None:
        self.end_of_data, self.goodbye = end_of_data, goodbye
        self.accepted = 0
        self.moments: list[str] = []  # "end of data" when the line ending a message's data arrives
        self.bodies: list[bytes] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return  # closed
            with connection, connection.makefile("rb") as lines:
                self._converse(connection, lines)

    def _converse(self, connection: socket.socket, lines: BinaryIO) -> None:
        def say(reply: str) -> None:
            connection.sendall(f"{reply}\r\n".encode())

        say("220 relay.test ESMTP")
        for raw in lines:
            command = raw.decode().strip().upper()
            if command.startswith("DATA"):
                say("354 go ahead")
                body = b""
                for body_line in lines:
                    if body_line == b".\r\n":
                        self.moments.append("end of data")
                        break
                    body += body_line
                self.bodies.append(body)
                if self.end_of_data.startswith("250"):
                    self.accepted += 1
                say(self.end_of_data)
            elif command.startswith("QUIT"):
                if self.goodbye is not None:
                    say(self.goodbye)
                return  # None: the connection drops instead of a reply
            else:
                say("250 ok")

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def relay_factory() -> Iterator[list[Relay]]:
    relays: list[Relay] = []
    yield relays
    for relay in relays:
        relay.close()


def send(relay: Relay, went_out: list[str]) -> str:
    settings = Settings.load().model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": relay.port, "smtp_starttls": False}
    )
    return mailer.send_email(
        settings,
        "camille@patients.dmp-test.fr",
        Message("Nouveau document", "Un document a été ajouté."),
        "evt_1.patient.email",
        stable=True,
        committing=went_out.append,
    )


@pytest.mark.parametrize(
    "goodbye",
    ["554 5.3.0 goodbye failed", "421 4.3.2 shutting down", None],
    ids=["permanent-error", "transient-error", "connection-dropped"],
)
def test_a_message_the_server_accepted_is_sent_whatever_its_goodbye(
    relay_factory: list[Relay], goodbye: str | None
) -> None:
    """Before, a failed QUIT after an accepted message raised: the delivery was retried or dead-lettered
    (and replayed), and the patient got the message twice."""
    relay = Relay("250 2.0.0 queued", goodbye)
    relay_factory.append(relay)
    went_out: list[str] = []
    message_id = send(relay, went_out)
    assert message_id.startswith("<evt_1.patient.email@")  # the delivery's own, on every attempt
    assert went_out == [message_id] and relay.accepted == 1


@pytest.mark.parametrize(
    ("end_of_data", "for_good"),
    [("554 5.7.1 rejected", True), ("451 4.3.0 try later", False)],
    ids=["refused-for-good", "refused-for-now"],
)
def test_a_message_the_server_refused_at_the_end_of_its_data_raises_after_it_was_noted(
    relay_factory: list[Relay], end_of_data: str, for_good: bool
) -> None:
    """Noted as it was handed over, then refused: the caller hears of it, to withdraw the note."""
    relay = Relay(end_of_data, "221 bye")
    relay_factory.append(relay)
    went_out: list[str] = []
    with pytest.raises(Exception) as raised:
        send(relay, went_out)
    # Refused for good: a dead letter; for now: an SMTP error notify retries later.
    assert isinstance(raised.value, PermanentFailure if for_good else smtplib.SMTPDataError)
    assert len(went_out) == 1 and relay.accepted == 0


def test_a_message_is_noted_before_its_end_reaches_the_server(relay_factory: list[Relay]) -> None:
    """Noted after the server's answer instead, a notify killed between the server's commit and its
    reading of the answer had the message sent again (the fault test's patient mailed twice)."""
    relay = Relay("250 2.0.0 queued", "221 bye")
    relay_factory.append(relay)
    went_out: list[str] = []

    def noted(message_id: str) -> None:
        went_out.append(message_id)
        relay.moments.append("noted")

    settings = Settings.load().model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": relay.port, "smtp_starttls": False}
    )
    mailer.send_email(
        settings,
        "camille@patients.dmp-test.fr",
        Message("Nouveau document", "A document was added.\n.\nThe line above is a dot."),
        "evt_2.patient.email",
        stable=True,
        committing=noted,
    )
    assert relay.moments == ["noted", "end of data"] and relay.accepted == 1
    assert relay.bodies[0].endswith(b"\r\n..\r\nThe line above is a dot.\r\n")  # dot-stuffing kept
