"""Stand-ins for what notify talks to besides its store: identity's contact look-ups, and the mail and SMS
gateways (services/notify/mailer.py and sms.py, replaced where the service calls them)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from services.common.settings import Settings
from services.notify import mailer, sms
from services.notify.messages import Message


@dataclass
class FakeIdentity:
    """identity's contact_of and professional_contact: what is on file, {} parts empty otherwise."""

    patients: dict[str, dict[str, str]] = field(default_factory=dict)
    professionals: dict[str, dict[str, str]] = field(default_factory=dict)

    def contact_of(self, patient_id: str) -> dict[str, str]:
        return self.patients.get(patient_id, {"email": "", "mobile": "", "language": "fr"})

    def professional_contact(self, professional_id: str) -> dict[str, str]:
        return self.professionals.get(
            professional_id, {"email": "", "language": "fr", "profession": ""}
        )


@dataclass(frozen=True)
class Sent:
    channel: str  # "email" or "sms"
    to: str
    subject: str
    body: str
    reference: str  # the Message-ID's reference for an email, "" for an SMS


@dataclass
class Gateways:
    """The mail and SMS gateways: what they accepted, in order. `failing` makes the next sends raise
    before anything is handed over; `refusing`, after a message was handed over (the mail server's
    refusal at the end of its data, the SMS gateway's error); `meanwhile` runs while a message is in the
    server's hands, before its answer."""

    sent: list[Sent] = field(default_factory=list)
    failing: Exception | None = None
    refusing: Exception | None = None
    meanwhile: Callable[[], None] | None = None

    def to(self, address: str) -> list[Sent]:
        return [message for message in self.sent if message.to == address]

    def send_email(
        self,
        settings: Settings,
        to: str,
        message: Message,
        reference: str,
        stable: bool = False,
        committing: Callable[[str], None] | None = None,
    ) -> str:
        if self.failing is not None:
            raise self.failing
        message_id = f"<{reference}@dmp.test>"
        if committing is not None:
            committing(message_id)
        if self.meanwhile is not None:
            self.meanwhile()
        if self.refusing is not None:
            raise self.refusing
        self.sent.append(Sent("email", to, message.subject, message.body, reference))
        return message_id

    def send_sms(
        self, settings: Settings, to: str, text: str, committing: Callable[[], None] | None = None
    ) -> str:
        if self.failing is not None:
            raise self.failing
        if committing is not None:
            committing()
        if self.meanwhile is not None:
            self.meanwhile()
        if self.refusing is not None:
            raise self.refusing
        self.sent.append(Sent("sms", to, "", text, ""))
        return f"sms-{len(self.sent)}"

    def install(self, monkeypatch: pytest.MonkeyPatch) -> Gateways:
        monkeypatch.setattr(mailer, "send_email", self.send_email)
        monkeypatch.setattr(sms, "send", self.send_sms)
        return self
