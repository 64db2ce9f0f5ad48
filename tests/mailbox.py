"""Reading what the test SMTP server received."""

from __future__ import annotations

import time
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path


@dataclass
class Mailbox:
    folder: Path
    port: int

    def messages(self, to: str) -> list[EmailMessage]:
        found = []
        for path in sorted(self.folder.glob("*.eml")):
            message = message_from_bytes(path.read_bytes(), policy=policy.default)
            assert isinstance(message, EmailMessage)
            if message["To"] == to:
                found.append(message)
        return found

    def wait_for(self, to: str, count: int, seconds: float = 20) -> list[EmailMessage]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            messages = self.messages(to)
            if len(messages) >= count:
                return messages
            time.sleep(0.1)
        raise AssertionError(f"{to} received {len(self.messages(to))} mail(s), expected {count}")
