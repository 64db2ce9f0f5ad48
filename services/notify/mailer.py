"""Real SMTP delivery (host, port, STARTTLS and credentials from the environment)."""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr
from typing import Any

from services.common.settings import Settings
from services.notify.exceptions import PermanentFailure
from services.notify.messages import Message

END_OF_DATA = b"\r\n.\r\n"


class _Client(smtplib.SMTP):
    """smtplib's client, calling `committing` just before the line that ends a message's data: once that
    line is sent the server holds the message unless it refuses it, and nothing between the call and
    the send can wait (no reply to read)."""

    def __init__(self, host: str, port: int, committing: Callable[[], None]) -> None:
        self.committing, self.in_data = committing, False
        super().__init__(host, port, timeout=15)

    def data(self, msg: Any) -> tuple[int, bytes]:
        self.in_data = True
        try:
            return super().data(msg)
        finally:
            self.in_data = False

    def send(self, s: Any) -> None:
        if self.in_data and isinstance(s, bytes) and s.endswith(END_OF_DATA):
            super().send(s[:-3])  # the data, up to its last CRLF
            self.committing()
            super().send(b".\r\n")
        else:
            super().send(s)


def send_email(
    settings: Settings,
    to: str,
    message: Message,
    reference: str,
    stable: bool = False,
    committing: Callable[[str], None] | None = None,
) -> str:
    """Send one message. `stable`: its Message-ID is `<reference@sender's domain>`, the same on every
    attempt (for a delivery: mail systems drop a copy they have seen); otherwise a unique one (each
    login code is a message of its own). `committing` is called with the Message-ID just before the end
    of the message's data goes out: if this returns, the server took it; if it raises, the server
    refused it (or the connection failed before its answer) and the caller withdraws what it noted."""
    email = EmailMessage()
    email["From"] = settings.mail_from
    email["To"] = to
    email["Subject"] = message.subject
    domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "dmp.invalid"
    email["Message-ID"] = (
        f"<{reference}@{domain}>" if stable else make_msgid(idstring=reference, domain=domain)
    )
    email.set_content(message.body)
    message_id = str(email["Message-ID"])
    try:
        smtp = _Client(
            settings.smtp_host,
            settings.smtp_port,
            (lambda: committing(message_id)) if committing is not None else (lambda: None),
        )
        try:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password)
            smtp.send_message(email)
        except BaseException:
            smtp.close()
            raise
    except smtplib.SMTPRecipientsRefused as error:
        raise PermanentFailure("recipient refused") from error
    except smtplib.SMTPResponseException as error:
        if 500 <= error.smtp_code < 600:
            raise PermanentFailure(f"SMTP {error.smtp_code}") from error
        raise
    _goodbye(smtp)
    return message_id


def _goodbye(smtp: smtplib.SMTP) -> None:
    """Once the server has accepted the message it is the server's: a goodbye that fails changes nothing
    (raised, it would have had an accepted message retried, or dead-lettered and replayed)."""
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()
