"""Settings (services/common/settings.py): read once per process, under the variable names the manifests and
the README use, with a ConfigurationError naming the variable when one is wrong; secrets parsed at start and
a service refusing to start without those it needs. Nothing else in services/ reads the environment."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from nameko.containers import ServiceContainer

from services.common.errors import ConfigurationError
from services.common.keys import SigningKey
from services.common.settings import GATEWAY_ONLY, SECRETS, Secret, Settings
from services.common.settings_provider import SettingsProvider

ROOT = Path(__file__).resolve().parents[2]
KEY = base64.urlsafe_b64encode(os.urandom(32)).decode()


def test_the_defaults_are_a_developer_machines() -> None:
    settings = Settings.load({})
    assert settings.amqp_uri == "pyamqp://guest:guest@127.0.0.1:5672/"
    assert settings.database_name("dossier") == "dmp_dossier"
    assert settings.token_ttl_seconds == 900
    assert settings.dev_login is False
    assert settings.cors_origins == []
    assert settings.rpc_reply_queue_expiry_seconds == 300
    assert settings.master_key is None and settings.trusted_issuers == {}


def test_each_setting_is_read_from_its_variable() -> None:
    settings = Settings.load(
        {
            "DMP_MONGO_DATABASE_PREFIX": "t1",
            "DMP_TOKEN_TTL_SECONDS": "60",
            "DMP_DEV_LOGIN": " Yes ",
            "SMTP_STARTTLS": "off",
            "DMP_CORS_ORIGINS": "https://a.example, ,https://b.example",
            "DMP_OUTBOX_INTERVAL_SECONDS": "0.2",
            "DMP_GATEWAY_PORT": "9000",
            "DMP_TRUSTED_ISSUERS": '[{"issuer": "psc", "jwks_url": "https://psc/jwks", "audience": "dmp"}]',
        }
    )
    assert settings.database_name("audit") == "t1_audit"
    assert settings.token_ttl_seconds == 60
    assert settings.dev_login is True and settings.smtp_starttls is False
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.outbox_interval_seconds == 0.2
    assert settings.gateway_port == 9000
    assert settings.trusted_issuers["psc"].jwks_url == "https://psc/jwks"


def test_the_process_environment_is_read_when_no_mapping_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DMP_NOTIFY_MAX_ATTEMPTS", "3")
    assert Settings.load().notify_max_attempts == 3


def test_a_blank_number_is_its_default() -> None:
    assert Settings.load({"SMTP_PORT": ""}).smtp_port == 1025


@pytest.mark.parametrize(
    ("variable", "value", "why"),
    [
        (
            "DMP_TOKEN_TTL_SECONDS",
            "fifteen",
            "DMP_TOKEN_TTL_SECONDS must be a whole number, got 'fifteen'",
        ),
        ("SMTP_PORT", "25.5", "SMTP_PORT must be a whole number"),
        ("DMP_OUTBOX_INTERVAL_SECONDS", "soon", "DMP_OUTBOX_INTERVAL_SECONDS must be a number"),
        ("DMP_TRUSTED_ISSUERS", "{not json", "DMP_TRUSTED_ISSUERS must be a JSON list"),
    ],
)
def test_a_malformed_setting_is_refused_naming_its_variable(
    variable: str, value: str, why: str
) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(why)):
        Settings.load({variable: value})


@pytest.mark.parametrize(
    ("variable", "value", "why"),
    [
        ("DMP_MASTER_KEY", "c2hvcnQ", "DMP_MASTER_KEY must decode to 32 bytes"),
        ("DMP_LOGIN_CODE_KEY", "***", "DMP_LOGIN_CODE_KEY must"),
        ("DMP_PREVIOUS_MASTER_KEYS", f"{KEY},c2hvcnQ", "DMP_PREVIOUS_MASTER_KEYS must decode"),
        (
            "DMP_TOKEN_SIGNING_KEY",
            "k1:c2hvcnQ",
            "DMP_TOKEN_SIGNING_KEY must be kid:<base64url seed>",
        ),
        (
            "DMP_AUDIT_SIGNING_KEY",
            "a1:c2hvcnQ",
            "DMP_AUDIT_SIGNING_KEY must be kid:<base64url seed>",
        ),
        (
            "DMP_TOKEN_PUBLIC_KEYS",
            "k1:c2hvcnQ",
            "DMP_TOKEN_PUBLIC_KEYS must be kid:<base64url key>",
        ),
        ("DMP_AUDIT_PUBLIC_KEYS", " , ", "DMP_AUDIT_PUBLIC_KEYS holds no key"),
        (
            "DMP_BUS_PUBLIC_KEYS",
            "gateway.1:c2hvcnQ",
            "DMP_BUS_PUBLIC_KEYS must be kid:<base64url key>",
        ),
    ],
)
def test_a_malformed_secret_is_refused_at_once_naming_its_variable_not_its_value(
    variable: str, value: str, why: str
) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(why)) as refused:
        Settings.load({variable: value})
    assert "c2hvcnQ" not in str(refused.value)


def test_secrets_are_handed_parsed() -> None:
    signing = SigningKey.generate("k1")
    settings = Settings.load(
        {
            "DMP_MASTER_KEY": KEY,
            "DMP_PREVIOUS_MASTER_KEYS": f" {KEY[::-1]}=,",
            "DMP_TOKEN_SIGNING_KEY": signing.serialise(),
            "DMP_TOKEN_PUBLIC_KEYS": signing.public(),
        }
    )
    assert settings.key(Secret.MASTER_KEY) == base64.urlsafe_b64decode(KEY)
    assert len(settings.master_keys()) == 2
    assert settings.signing_key(Secret.TOKEN_SIGNING_KEY).public() == signing.public()
    assert set(settings.public_keys(Secret.TOKEN_PUBLIC_KEYS)) == {"k1"}
    assert KEY not in repr(settings)


def test_settings_read_from_a_mapping_take_nothing_from_the_process_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DMP_TOKEN_TTL_SECONDS", "61")
    monkeypatch.setenv("DMP_BUS_PUBLIC_KEYS", SigningKey.generate("dossier.1").public())
    given = Settings.load({"DMP_TOKEN_TTL_SECONDS": "60"})
    assert given.token_ttl_seconds == 60 and given.bus_public_keys_text == ""
    assert Settings.load().token_ttl_seconds == 61  # the process's own settings still come from it


def test_a_missing_secret_is_named_when_required_or_used() -> None:
    public = SigningKey.generate("k1").public()
    settings = Settings.load({"DMP_MASTER_KEY": "", "DMP_TOKEN_PUBLIC_KEYS": public})
    with pytest.raises(ConfigurationError, match="DMP_MASTER_KEY is not set"):
        settings.require(Secret.TOKEN_PUBLIC_KEYS, Secret.MASTER_KEY)
    with pytest.raises(ConfigurationError, match="DMP_AUDIT_SIGNING_KEY is not set"):
        settings.signing_key(Secret.AUDIT_SIGNING_KEY)
    with pytest.raises(ConfigurationError, match="DMP_BUS_PUBLIC_KEYS is not set"):
        settings.require(Secret.BUS_PUBLIC_KEYS)


class Needy:
    name = "needy"
    settings: Settings = SettingsProvider(needs=(Secret.MASTER_KEY, Secret.LOGIN_CODE_KEY))


def test_a_service_without_a_secret_it_needs_refuses_to_start_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DMP_MASTER_KEY", KEY)
    monkeypatch.delenv("DMP_LOGIN_CODE_KEY", raising=False)
    with pytest.raises(ConfigurationError, match="DMP_LOGIN_CODE_KEY is not set"):
        ServiceContainer(Needy).start()


def test_a_service_with_a_malformed_setting_stops_before_connecting_to_anything() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DMP_MASTER_KEY": "c2hvcnQ"}
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-m", "services.common.launcher", "dossier"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode != 0
    assert "ConfigurationError: DMP_MASTER_KEY must decode to 32 bytes" in done.stderr
    assert "c2hvcnQ" not in done.stderr


def test_every_secret_and_gateway_setting_is_a_field_of_settings() -> None:
    aliases = {field.validation_alias for field in Settings.model_fields.values()}
    assert aliases >= SECRETS | GATEWAY_ONLY


SERVICES = ROOT / "services"
ENVIRONMENT_READERS = {
    SERVICES / "common" / "settings.py",
    # deploy tooling, run by the broker's set-up job rather than by a service
    SERVICES / "common" / "broker_admin.py",
}
# The process entry points, where the settings are built once: a container, the gateway's app, the tools.
BUILDERS = {
    SERVICES / "common" / "settings_provider.py",
    SERVICES / "common" / "launcher.py",
    SERVICES / "common" / "healthcheck.py",
    SERVICES / "gateway" / "app.py",
    SERVICES / "dossier" / "fees.py",
    SERVICES / "dossier" / "feed_import.py",
    SERVICES / "dossier" / "rotate_keys.py",
    SERVICES / "notify" / "dead_letters.py",
    SERVICES / "audit" / "verify.py",
}


def sources() -> list[Path]:
    return sorted(SERVICES.rglob("*.py"))


def test_nothing_in_services_reads_the_environment_but_the_settings() -> None:
    readers = {p for p in sources() if re.search(r"os\.environ|os\.getenv|getenv\(", p.read_text())}
    assert readers <= ENVIRONMENT_READERS, sorted(str(p.relative_to(ROOT)) for p in readers)


def test_settings_are_built_only_where_a_process_starts() -> None:
    builders = {
        p
        for p in sources()
        if p.name != "settings.py" and re.search(r"Settings\.load\(|Settings\(\)", p.read_text())
    }
    assert builders <= BUILDERS, sorted(str(p.relative_to(ROOT)) for p in builders)
    for path in BUILDERS - {SERVICES / "common" / "settings_provider.py"}:
        text = path.read_text()
        # once, in the function that starts the process
        assert text.count("Settings.load(") == 1, path
