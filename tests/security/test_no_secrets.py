"""No secret in the repository: every tracked file is scanned for private keys, signed JWTs, keys
assigned to secret settings, cloud keys and passwords in URLs. The scanner is tested on planted
secrets first, so that a scan finding nothing means something."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from services.common.keys import SigningKey

ROOT = Path(__file__).resolve().parents[2]
PATTERNS = {
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "signed JWT": re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}"),
    "key assigned to a secret setting": re.compile(
        r"\b[A-Z_]*(?:KEY|KEYS|SECRET|PASSWORD|TOKEN)\b['\"]?\s*[=:]\s*['\"]?(?:[\w.-]{1,32}:)?"
        r"[A-Za-z0-9_+/-]{32,}={0,2}"
    ),
    "AWS access key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    # <placeholder> and $VARIABLE passwords are documentation, not secrets
    "password in a URL": re.compile(
        r":/{2}(?!guest:guest@|user:password@)[^/\s:@'\"{}]+:(?![<$])[^/\s@'\"{}<>]{4,}@"
    ),
}


def findings(text: str) -> list[str]:
    return [name for name, pattern in PATTERNS.items() if pattern.search(text)]


def tracked_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    return [ROOT / name for name in listed.decode().split("\0") if name]


# Planted secrets are assembled at run time, so that this file holds none for the scan to find.
BEGIN, JWT_HEAD = "-----BEGIN ", "eyJ"


@pytest.mark.parametrize(
    "planted, kind",
    [
        (BEGIN + "OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk=", "private key"),
        (BEGIN + "EC PRIVATE KEY-----", "private key"),
        (
            f"Authorization: Bearer {JWT_HEAD}hbGciOiJFZERTQSJ9.{JWT_HEAD}zdWIiOiJwYXRfMSJ9."
            "c2lnbmF0dXJlLW9mLTY0LWJ5dGVz",
            "signed JWT",
        ),
        (
            f"DMP_TOKEN_SIGNING_KEY={SigningKey.generate('prod').serialise()}",
            "key assigned to a secret setting",
        ),
        ("DMP_MASTER_KEY" + ': "' + "q83vEjRWeJ" * 4 + 'q80="', "key assigned to a secret setting"),
        ("aws_key = " + "AKIA" + "IOSFODNN7EXAMPLE", "AWS access key"),
        ("MONGO_URI=mongodb://dmp:" + "S3cr3t-pass@mongo-0:27017/", "password in a URL"),
    ],
)
def test_the_scanner_finds_planted_secrets(planted: str, kind: str) -> None:
    assert kind in findings(planted)


@pytest.mark.parametrize(
    "harmless",
    [
        "AMQP_URI=pyamqp://guest:guest@127.0.0.1:5672/",  # RabbitMQ's local default, documented
        "set AMQP_URI=amqp://user:password@host:5672/ to point at it",
        "AMQP_URI (amqps://dmp:<pw>@dmp-rabbitmq.dmp.svc:5671/dmp in prod)",
        'MONGO_URI="mongodb://dmp:$MONGO_PASSWORD@mongodb:27017/"',
        "DMP_TOKEN_SIGNING_KEY must be kid:<base64url seed>",
        'forged = {"Authorization": "Bearer eyJhbGciOiJFZERTQSJ9.e30.AAAA"}',
    ],
)
def test_the_scanner_leaves_placeholders_alone(harmless: str) -> None:
    assert findings(harmless) == []


def test_no_tracked_file_holds_a_secret() -> None:
    files = tracked_files()
    assert len(files) > 100  # the scan did see the repository
    found = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, FileNotFoundError):
            continue
        found += [f"{path.relative_to(ROOT)}: {kind}" for kind in findings(text)]
    assert found == []


def test_the_development_secrets_file_is_never_tracked() -> None:
    ignored = subprocess.run(["git", "check-ignore", "-q", "var/dev.env"], cwd=ROOT, check=False)
    assert ignored.returncode == 0
