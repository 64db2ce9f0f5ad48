"""Every setting the code reads, from the environment, in one place, read once per process.

Defaults work on a developer machine; production sets each of them (see the README's
environment table and deploy/). A process builds its `Settings` once when it starts (`Settings.load()`:
the launcher's SettingsProvider, the gateway's create_app, a tool's main) and hands it on; nothing else
reads the environment. Secrets are parsed then too: a malformed one refuses the start, naming its variable.
Secrets have no default: a service declares the ones it needs (SettingsProvider(needs=...)) and refuses to
start, with the variable's name in the message, when one is missing.
"""

from __future__ import annotations

import base64
import enum
from contextvars import ContextVar
from typing import Annotated, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BeforeValidator, Field, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from services.common.errors import ConfigurationError
from services.common.issuers import TrustedIssuer, parse_issuers
from services.common.keys import SigningKey, parse_public_keys
from services.common.signatures import BusKeys, bus_keys


class Secret(enum.StrEnum):
    """The secrets, by their variable: only the processes that use one are given it (deploy/k8s)."""

    TOKEN_SIGNING_KEY = "DMP_TOKEN_SIGNING_KEY"  # noqa: S105 (a variable name, not a secret)
    TOKEN_PUBLIC_KEYS = "DMP_TOKEN_PUBLIC_KEYS"  # noqa: S105
    MASTER_KEY = "DMP_MASTER_KEY"
    LOGIN_CODE_KEY = "DMP_LOGIN_CODE_KEY"
    IDENTITY_MESSAGE_KEY = "DMP_IDENTITY_MESSAGE_KEY"
    BUS_PUBLIC_KEYS = "DMP_BUS_PUBLIC_KEYS"
    AUDIT_SIGNING_KEY = "DMP_AUDIT_SIGNING_KEY"
    AUDIT_PUBLIC_KEYS = "DMP_AUDIT_PUBLIC_KEYS"


# Read by the gateway alone (the manifests' test expects every other setting on every Deployment).
GATEWAY_ONLY = frozenset(
    {
        "DMP_GATEWAY_HOST",
        "DMP_GATEWAY_PORT",
        "DMP_GATEWAY_FORWARDED_ALLOW_IPS",
        "DMP_GATEWAY_GRACEFUL_SECONDS",
        "DMP_PRO_OIDC_ISSUER",
        "DMP_PRO_OIDC_CLIENT_SECRET",
    }
)
# Secrets given only to the processes that use them, beside those of Secret (optional ones included).
SECRETS = frozenset(
    {
        *Secret,
        "DMP_PREVIOUS_MASTER_KEYS",
        "DMP_BUS_SIGNING_KEY",
        "DMP_PRO_OIDC_CLIENT_SECRET",
        "SMTP_USERNAME",
        "SMTP_PASSWORD",
        "SMS_USERNAME",
        "SMS_PASSWORD",
        "AMQP_URI",
        "MONGO_URI",
    }
)


def decode_secret(name: str, text: str, length: int = 32) -> bytes:
    try:
        value = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        raise ConfigurationError(f"{name} must be base64url") from None
    if len(value) != length:
        raise ConfigurationError(f"{name} must decode to {length} bytes")
    return value


def _flag(raw: object) -> object:
    # as before: anything but a yes is a no (an operator's "off", "0" or "no" alike)
    if isinstance(raw, str):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    return raw


def _origins(raw: object) -> object:
    if isinstance(raw, str):
        return [origin.strip() for origin in raw.split(",") if origin.strip()]
    return raw


def _key(name: str) -> BeforeValidator:
    return BeforeValidator(lambda raw: decode_secret(name, raw) if isinstance(raw, str) else raw)


def _keys(name: str) -> BeforeValidator:
    def parse(raw: object) -> object:
        if isinstance(raw, str):
            parts = filter(None, (part.strip() for part in raw.split(",")))
            return tuple(decode_secret(name, part) for part in parts)
        return raw

    return BeforeValidator(parse)


def _signing(name: str) -> BeforeValidator:
    return BeforeValidator(lambda raw: SigningKey.parse(raw, name) if isinstance(raw, str) else raw)


def _public(name: str) -> BeforeValidator:
    return BeforeValidator(
        lambda raw: parse_public_keys(raw, name) if isinstance(raw, str) else raw
    )


def _issuers(raw: object) -> object:
    return parse_issuers(raw) if isinstance(raw, str) else raw


Flag = Annotated[bool, BeforeValidator(_flag)]
Key = Annotated[bytes | None, NoDecode]
PublicKeys = dict[str, Ed25519PublicKey]

# Blank means "not set" for these, as it did (an empty SMTP_PORT= in a manifest is the default).
_BLANK_IS_DEFAULT = frozenset(
    {
        "DMP_TOKEN_TTL_SECONDS",
        "DMP_MAX_DOCUMENT_BYTES",
        "SMTP_PORT",
        "DMP_RPC_TIMEOUT_SECONDS",
        "DMP_LOGIN_RATE_PER_ADDRESS",
        "DMP_NOTIFY_LEASE_SECONDS",
        "DMP_IDEMPOTENCY_CLAIM_SECONDS",
        "DMP_RATE_PER_ACTOR_PER_MINUTE",
        "DMP_NOTIFY_RETRY_BASE_SECONDS",
        "DMP_NOTIFY_MAX_ATTEMPTS",
        "DMP_RPC_REPLY_QUEUE_EXPIRY_SECONDS",
        "DMP_GATEWAY_PORT",
        "DMP_GATEWAY_GRACEFUL_SECONDS",
        # an empty secret is a missing one: the service that needs it says so by name
        *Secret,
        "DMP_BUS_SIGNING_KEY",
        "DMP_PRO_OIDC_CLIENT_SECRET",
    }
)


# Set while settings are read from a given mapping alone: the process's environment is then not a source.
_GIVEN_ONLY: ContextVar[bool] = ContextVar("settings_given_only", default=False)


class Settings(BaseSettings):
    """One process's settings. Each field names its variable (validation_alias): the README's table and
    the manifests' test (tests/deploy) go by those names."""

    model_config = SettingsConfigDict(
        frozen=True, extra="ignore", case_sensitive=True, arbitrary_types_allowed=True
    )

    amqp_uri: str = Field("pyamqp://guest:guest@127.0.0.1:5672/", validation_alias="AMQP_URI")
    mongo_uri: str = Field("mongodb://127.0.0.1:27017/", validation_alias="MONGO_URI")
    mongo_database_prefix: str = Field("dmp", validation_alias="DMP_MONGO_DATABASE_PREFIX")
    token_issuer: str = Field("dmp-identity", validation_alias="DMP_TOKEN_ISSUER")
    token_audience: str = Field("dmp", validation_alias="DMP_TOKEN_AUDIENCE")
    token_ttl_seconds: int = Field(900, validation_alias="DMP_TOKEN_TTL_SECONDS")
    dev_login: Flag = Field(False, validation_alias="DMP_DEV_LOGIN")
    max_document_bytes: int = Field(20 * 1024 * 1024, validation_alias="DMP_MAX_DOCUMENT_BYTES")
    smtp_host: str = Field("127.0.0.1", validation_alias="SMTP_HOST")
    smtp_port: int = Field(1025, validation_alias="SMTP_PORT")
    smtp_username: str = Field("", validation_alias="SMTP_USERNAME")
    smtp_password: str = Field("", validation_alias="SMTP_PASSWORD", repr=False)
    smtp_starttls: Flag = Field(False, validation_alias="SMTP_STARTTLS")
    mail_from: str = Field(
        "Mon espace santé <ne-pas-repondre@dmp.local>", validation_alias="DMP_MAIL_FROM"
    )
    patient_portal_url: str = Field(
        "http://127.0.0.1:8000", validation_alias="DMP_PATIENT_PORTAL_URL"
    )
    rpc_timeout_seconds: int = Field(30, validation_alias="DMP_RPC_TIMEOUT_SECONDS")
    outbox_interval_seconds: float = Field(0.5, validation_alias="DMP_OUTBOX_INTERVAL_SECONDS")
    login_rate_per_address: int = Field(300, validation_alias="DMP_LOGIN_RATE_PER_ADDRESS")
    notify_lease_seconds: int = Field(60, validation_alias="DMP_NOTIFY_LEASE_SECONDS")
    idempotency_claim_seconds: int = Field(60, validation_alias="DMP_IDEMPOTENCY_CLAIM_SECONDS")
    rate_per_actor_per_minute: int = Field(600, validation_alias="DMP_RATE_PER_ACTOR_PER_MINUTE")
    cors_origins: Annotated[list[str], NoDecode, BeforeValidator(_origins)] = Field(
        default_factory=list, validation_alias="DMP_CORS_ORIGINS"
    )
    notify_retry_base_seconds: int = Field(30, validation_alias="DMP_NOTIFY_RETRY_BASE_SECONDS")
    notify_max_attempts: int = Field(8, validation_alias="DMP_NOTIFY_MAX_ATTEMPTS")
    notify_journal_dir: str = Field("var/notify", validation_alias="DMP_NOTIFY_JOURNAL_DIR")
    sms_gateway_url: str = Field(
        "http://127.0.0.1:13013/cgi-bin/sendsms", validation_alias="SMS_GATEWAY_URL"
    )
    sms_username: str = Field("", validation_alias="SMS_USERNAME")
    sms_password: str = Field("", validation_alias="SMS_PASSWORD", repr=False)
    sms_from: str = Field("DMP", validation_alias="SMS_FROM")
    # an RPC client's reply queue, unused this long, is deleted
    rpc_reply_queue_expiry_seconds: int = Field(
        300, validation_alias="DMP_RPC_REPLY_QUEUE_EXPIRY_SECONDS"
    )
    trusted_issuers: Annotated[dict[str, TrustedIssuer], NoDecode, BeforeValidator(_issuers)] = (
        Field(default_factory=dict, validation_alias="DMP_TRUSTED_ISSUERS")
    )
    otlp_endpoint: str = Field("", validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT")

    # the gateway's own (GATEWAY_ONLY)
    gateway_host: str = Field("127.0.0.1", validation_alias="DMP_GATEWAY_HOST")
    gateway_port: int = Field(8000, validation_alias="DMP_GATEWAY_PORT")
    gateway_forwarded_allow_ips: str = Field(
        "127.0.0.1", validation_alias="DMP_GATEWAY_FORWARDED_ALLOW_IPS"
    )
    gateway_graceful_seconds: int = Field(35, validation_alias="DMP_GATEWAY_GRACEFUL_SECONDS")
    pro_oidc_issuer: str = Field("", validation_alias="DMP_PRO_OIDC_ISSUER")
    pro_oidc_client_secret: str | None = Field(
        None, validation_alias="DMP_PRO_OIDC_CLIENT_SECRET", repr=False
    )

    # secrets, parsed here (a malformed one fails the start); None when not given
    token_signing_key: Annotated[SigningKey | None, NoDecode, _signing("DMP_TOKEN_SIGNING_KEY")] = (
        Field(None, validation_alias="DMP_TOKEN_SIGNING_KEY", repr=False)
    )
    token_public_keys: Annotated[PublicKeys | None, NoDecode, _public("DMP_TOKEN_PUBLIC_KEYS")] = (
        Field(None, validation_alias="DMP_TOKEN_PUBLIC_KEYS", repr=False)
    )
    master_key: Annotated[Key, _key("DMP_MASTER_KEY")] = Field(
        None, validation_alias="DMP_MASTER_KEY", repr=False
    )
    previous_master_keys: Annotated[
        tuple[bytes, ...], NoDecode, _keys("DMP_PREVIOUS_MASTER_KEYS")
    ] = Field((), validation_alias="DMP_PREVIOUS_MASTER_KEYS", repr=False)
    login_code_key: Annotated[Key, _key("DMP_LOGIN_CODE_KEY")] = Field(
        None, validation_alias="DMP_LOGIN_CODE_KEY", repr=False
    )
    identity_message_key: Annotated[Key, _key("DMP_IDENTITY_MESSAGE_KEY")] = Field(
        None, validation_alias="DMP_IDENTITY_MESSAGE_KEY", repr=False
    )
    bus_signing_key_text: str = Field("", validation_alias="DMP_BUS_SIGNING_KEY", repr=False)
    bus_public_keys_text: str = Field("", validation_alias="DMP_BUS_PUBLIC_KEYS", repr=False)
    audit_signing_key: Annotated[SigningKey | None, NoDecode, _signing("DMP_AUDIT_SIGNING_KEY")] = (
        Field(None, validation_alias="DMP_AUDIT_SIGNING_KEY", repr=False)
    )
    audit_public_keys: Annotated[PublicKeys | None, NoDecode, _public("DMP_AUDIT_PUBLIC_KEYS")] = (
        Field(None, validation_alias="DMP_AUDIT_PUBLIC_KEYS", repr=False)
    )

    @model_validator(mode="before")
    @classmethod
    def _blank_is_default(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if not (k in _BLANK_IS_DEFAULT and v == "")}
        return data

    @model_validator(mode="after")
    def _bus_keys_parse(self) -> Settings:
        # parsed now so that a malformed key refuses the start; kept parsed by bus_keys' cache
        if self.bus_public_keys_text or self.bus_signing_key_text:
            self.bus_keys()
        return self

    @classmethod
    def load(cls, environ: dict[str, str] | None = None) -> Settings:
        """The settings of this process, from the environment (or `environ`), or a ConfigurationError
        naming the variable that is wrong and why (never its value, which may be a secret)."""
        given_only = _GIVEN_ONLY.set(environ is not None)
        try:
            return cls() if environ is None else cls.model_validate(environ)
        except ValidationError as error:
            raise ConfigurationError(_explained(error)) from None
        finally:
            _GIVEN_ONLY.reset(given_only)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # `load(environ)` reads that mapping and nothing else (a test's, a tool's): never the process's own.
        if _GIVEN_ONLY.get():
            return (init_settings,)
        return (init_settings, env_settings)

    def require(self, *secrets: Secret) -> None:
        """Refuse to start without these secrets, naming the first one missing."""
        for secret in secrets:
            if secret is Secret.BUS_PUBLIC_KEYS:
                self.bus_keys()
            elif getattr(self, _FIELDS[secret]) is None:
                raise _missing(secret)

    def key(self, secret: Secret) -> bytes:
        """A symmetric key: DMP_MASTER_KEY, DMP_LOGIN_CODE_KEY or DMP_IDENTITY_MESSAGE_KEY."""
        value = getattr(self, _FIELDS[secret])
        if not isinstance(value, bytes):
            raise _missing(secret)
        return value

    def signing_key(self, secret: Secret) -> SigningKey:
        """DMP_TOKEN_SIGNING_KEY or DMP_AUDIT_SIGNING_KEY."""
        value = getattr(self, _FIELDS[secret])
        if not isinstance(value, SigningKey):
            raise _missing(secret)
        return value

    def public_keys(self, secret: Secret) -> PublicKeys:
        """DMP_TOKEN_PUBLIC_KEYS or DMP_AUDIT_PUBLIC_KEYS, by key id."""
        value = getattr(self, _FIELDS[secret])
        if not isinstance(value, dict):
            raise _missing(secret)
        return value

    def bus_keys(self) -> BusKeys:
        """This process's keys on the bus (services/common/signatures.py)."""
        return bus_keys(self.bus_signing_key_text, self.bus_public_keys_text)

    def master_keys(self) -> tuple[bytes, ...]:
        """The current master key, then the previous ones still needed during a rotation."""
        return (self.key(Secret.MASTER_KEY), *self.previous_master_keys)

    def database_name(self, service: str) -> str:
        """Each service owns its own database: no service reads another's collections."""
        return f"{self.mongo_database_prefix}_{service}"


_FIELDS = {
    Secret.TOKEN_SIGNING_KEY: "token_signing_key",
    Secret.TOKEN_PUBLIC_KEYS: "token_public_keys",
    Secret.MASTER_KEY: "master_key",
    Secret.LOGIN_CODE_KEY: "login_code_key",
    Secret.IDENTITY_MESSAGE_KEY: "identity_message_key",
    Secret.BUS_PUBLIC_KEYS: "bus_public_keys_text",
    Secret.AUDIT_SIGNING_KEY: "audit_signing_key",
    Secret.AUDIT_PUBLIC_KEYS: "audit_public_keys",
}


def _missing(secret: Secret) -> ConfigurationError:
    return ConfigurationError(f"{secret.value} is not set; see the README's environment table")


_WHY = {
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
}


def _explained(error: ValidationError) -> str:
    first = error.errors()[0]
    name = str(first["loc"][0]) if first["loc"] else "a setting"
    why = _WHY.get(first["type"], first["msg"])
    if name in SECRETS:  # a secret's value never goes into a message
        return f"{name} {why}"
    return f"{name} {why}, got {first['input']!r}"
