"""Every setting the code reads, from the environment, in one place.

Defaults work on a developer machine; production sets each of them (see the README's
environment table and deploy/). Secrets have no default: a service that needs one and does
not find it refuses to start, with the variable's name in the message.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass

from services.common.errors import ConfigurationError


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number, got {raw!r}") from None


def secret_bytes(name: str, length: int = 32) -> bytes:
    """A binary secret from the environment, base64url, of exactly `length` bytes."""
    return decode_secret(name, required(name), length)


def decode_secret(name: str, text: str, length: int = 32) -> bytes:
    try:
        value = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        raise ConfigurationError(f"{name} must be base64url") from None
    if len(value) != length:
        raise ConfigurationError(f"{name} must decode to {length} bytes")
    return value


def required(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise ConfigurationError(f"{name} is not set; see the README's environment table")
    return value


@dataclass(frozen=True)
class Settings:
    amqp_uri: str
    mongo_uri: str
    mongo_database_prefix: str
    token_issuer: str
    token_audience: str
    token_ttl_seconds: int
    dev_login: bool
    max_document_bytes: int
    smtp_host: str
    smtp_port: int
    smtp_username: str
    smtp_password: str
    smtp_starttls: bool
    mail_from: str
    patient_portal_url: str
    rpc_timeout_seconds: int
    outbox_interval_seconds: float
    login_rate_per_address: int
    notify_lease_seconds: int
    idempotency_claim_seconds: int
    rate_per_actor_per_minute: int
    cors_origins: list[str]
    notify_retry_base_seconds: int
    notify_max_attempts: int
    notify_journal_dir: str
    sms_gateway_url: str
    sms_username: str
    sms_password: str
    sms_from: str
    rpc_reply_queue_expiry_seconds: int = (
        300  # an RPC client's reply queue, unused this long, is deleted
    )

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            amqp_uri=os.environ.get("AMQP_URI", "pyamqp://guest:guest@127.0.0.1:5672/"),
            mongo_uri=os.environ.get("MONGO_URI", "mongodb://127.0.0.1:27017/"),
            mongo_database_prefix=os.environ.get("DMP_MONGO_DATABASE_PREFIX", "dmp"),
            token_issuer=os.environ.get("DMP_TOKEN_ISSUER", "dmp-identity"),
            token_audience=os.environ.get("DMP_TOKEN_AUDIENCE", "dmp"),
            token_ttl_seconds=_int("DMP_TOKEN_TTL_SECONDS", 900),
            dev_login=_flag("DMP_DEV_LOGIN", False),
            max_document_bytes=_int("DMP_MAX_DOCUMENT_BYTES", 20 * 1024 * 1024),
            smtp_host=os.environ.get("SMTP_HOST", "127.0.0.1"),
            smtp_port=_int("SMTP_PORT", 1025),
            smtp_username=os.environ.get("SMTP_USERNAME", ""),
            smtp_password=os.environ.get("SMTP_PASSWORD", ""),
            smtp_starttls=_flag("SMTP_STARTTLS", False),
            mail_from=os.environ.get(
                "DMP_MAIL_FROM", "Mon espace santé <ne-pas-repondre@dmp.local>"
            ),
            patient_portal_url=os.environ.get("DMP_PATIENT_PORTAL_URL", "http://127.0.0.1:8000"),
            rpc_timeout_seconds=_int("DMP_RPC_TIMEOUT_SECONDS", 30),
            outbox_interval_seconds=float(os.environ.get("DMP_OUTBOX_INTERVAL_SECONDS", "0.5")),
            login_rate_per_address=_int("DMP_LOGIN_RATE_PER_ADDRESS", 300),
            notify_lease_seconds=_int("DMP_NOTIFY_LEASE_SECONDS", 60),
            idempotency_claim_seconds=_int("DMP_IDEMPOTENCY_CLAIM_SECONDS", 60),
            rate_per_actor_per_minute=_int("DMP_RATE_PER_ACTOR_PER_MINUTE", 600),
            cors_origins=[
                o.strip() for o in os.environ.get("DMP_CORS_ORIGINS", "").split(",") if o.strip()
            ],
            notify_retry_base_seconds=_int("DMP_NOTIFY_RETRY_BASE_SECONDS", 30),
            notify_max_attempts=_int("DMP_NOTIFY_MAX_ATTEMPTS", 8),
            notify_journal_dir=os.environ.get("DMP_NOTIFY_JOURNAL_DIR", "var/notify"),
            sms_gateway_url=os.environ.get(
                "SMS_GATEWAY_URL", "http://127.0.0.1:13013/cgi-bin/sendsms"
            ),
            sms_username=os.environ.get("SMS_USERNAME", ""),
            sms_password=os.environ.get("SMS_PASSWORD", ""),
            sms_from=os.environ.get("SMS_FROM", "DMP"),
            rpc_reply_queue_expiry_seconds=_int("DMP_RPC_REPLY_QUEUE_EXPIRY_SECONDS", 300),
        )

    def database_name(self, service: str) -> str:
        """Each service owns its own database: no service reads another's collections."""
        return f"{self.mongo_database_prefix}_{service}"
