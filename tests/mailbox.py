"""Reading what the test SMTP server and SMS gateway received."""

from __future__ import annotations

import time
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from deploy.local.smsbox import newest_code, received

DOSSIER_NEWS = "dossier médical partagé"  # in the subject of every document or consultation notice, not of login codes
ACCESS_NEWS = "Accès à votre dossier"  # consent recorded, care team joined (who may access changed)
MT_NEWS = "médecin traitant"  # a proposal, a change or an end of the médecin traitant
LOGIN_CODE = "code de connexion"


@dataclass
class Mailbox:
    folder: Path
    port: int

    def messages(self, to: str, subject: str = "") -> list[EmailMessage]:
        """Mail received for `to`, optionally only those whose subject contains `subject`."""
        found = []
        for path in sorted(self.folder.glob("*.eml")):
            message = message_from_bytes(path.read_bytes(), policy=policy.default)
            assert isinstance(message, EmailMessage)
            if message["To"] == to and subject in str(message["Subject"]):
                found.append(message)
        return found

    def wait_for(
        self, to: str, count: int, subject: str = "", seconds: float = 20
    ) -> list[EmailMessage]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            messages = self.messages(to, subject)
            if len(messages) >= count:
                return messages
            time.sleep(0.1)
        raise AssertionError(
            f"{to} received {len(self.messages(to, subject))} mail(s), expected {count}"
        )


@dataclass
class SmsInbox:
    """What the test SMS gateway accepted."""

    folder: Path
    url: str

    def wait_for_code(self, to: str, seconds: float = 20) -> str:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            code = newest_code(self.folder, to)
            if code is not None:
                return code
            time.sleep(0.1)
        raise AssertionError(f"no code texted to {to}")

    def texts(self, to: str) -> list[dict[str, str]]:
        return received(self.folder, to)
