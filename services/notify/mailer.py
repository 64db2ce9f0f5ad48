"""Real SMTP delivery (host, port, STARTTLS and credentials from the environment)."""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr

from services.common.settings import Settings
from services.notify.exceptions import PermanentFailure
from services.notify.messages import Message


def send_email(
    settings: Settings,
    to: str,
    message: Message,
    reference: str,
    stable: bool = False,
    accepted: Callable[[str], None] | None = None,
) -> str:
    """Send one message. `stable`: its Message-ID is `<reference@sender's domain>`, the same on every
    attempt (for a delivery: mail systems drop a copy they have seen); otherwise a unique one (each
    login code is a message of its own). `accepted` is called with the Message-ID as soon as the server
    has taken the message, before the goodbye (QUIT) exchange: the window in which the sender could
    die without knowing the message went out is one reply wide."""
    email = EmailMessage()
    email["From"] = settings.mail_from
    email["To"] = to
    email["Subject"] = message.subject
    domain = parseaddr(settings.mail_from)[1].rpartition("@")[2] or "dmp.invalid"
    email["Message-ID"] = (
        f"<{reference}@{domain}>" if stable else make_msgid(idstring=reference, domain=domain)
    )
    email.set_content(message.body)
    try:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=15)
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
    try:
        if accepted is not None:
            accepted(str(email["Message-ID"]))
    finally:
        _goodbye(smtp)
    return str(email["Message-ID"])


def _goodbye(smtp: smtplib.SMTP) -> None:
    """Once the server has accepted the message it is the server's: a goodbye that fails changes nothing
    (raised, it would have had an accepted message retried, or dead-lettered and replayed)."""
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()
