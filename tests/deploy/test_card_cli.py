"""Issue 17 item 14: the development card signs any nonce, including one that begins with '-'.

The nonce is base64url (`secrets.token_urlsafe`), so one in 64 begins with '-'; the README's walk must
not take it for an option. Runs the real command, as the README does, and checks the signature with
the identity service's own verifier; the other ways of passing a nonce run the command's `main` in this
process, with the same words in sys.argv and the same stdin (a process each cost a second of the fast tier).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from deploy.local.card import main
from services.identity.login import card_signature_valid

ROOT = Path(__file__).resolve().parents[2]
DASH_NONCES = ["-", "--", "-h", "--nonce", "-Zx3_kq9Vb", "--help-me_no", "-" * 43]


def card(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deploy.local.card", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def pem(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    path = tmp_path_factory.mktemp("cards") / "alex.pem"
    made = card("new", str(path))
    assert made.returncode == 0, made.stderr
    return path, json.loads(made.stdout)


def card_in_process(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *args: str,
    stdin: str | None = None,
) -> str:
    """What `python -m deploy.local.card ARGS` prints, run as its `__main__` does (main() reads sys.argv)."""
    monkeypatch.setattr(sys, "argv", ["card.py", *args])
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin or ""))
    capsys.readouterr()
    main()
    return capsys.readouterr().out


@pytest.mark.parametrize("nonce", DASH_NONCES)
def test_item14_card_signs_a_nonce_beginning_with_dash_every_way(
    pem: tuple[Path, str],
    nonce: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, public = pem
    readme = card("sign", str(path), f"--nonce={nonce}")  # the README's form, as a real command
    assert readme.returncode == 0, readme.stderr
    assert card_signature_valid(public, nonce, readme.stdout.strip())
    for args, stdin in (
        (["sign", str(path), "--", nonce], None),
        (["sign", str(path), "--nonce", nonce], None),
        (["sign", str(path)], nonce + "\n"),
    ):  # from stdin
        signed = card_in_process(monkeypatch, capsys, *args, stdin=stdin)
        assert card_signature_valid(public, nonce, signed.strip()), args


def test_item14_card_plain_positional_nonce_still_works(pem: tuple[Path, str]) -> None:
    path, public = pem
    signed = card("sign", str(path), "AbC_def-123")
    assert signed.returncode == 0, signed.stderr
    assert card_signature_valid(public, "AbC_def-123", signed.stdout.strip())


def test_item14_readme_walk_passes_the_nonce_as_an_option_value() -> None:
    readme = (ROOT / "README.md").read_text()
    assert 'deploy.local.card sign var/cards/alex.pem --nonce="$NONCE"' in readme
    assert 'deploy.local.card sign var/cards/alex.pem "$NONCE"' not in readme


def test_item14_card_refuses_an_empty_or_ambiguous_nonce(pem: tuple[Path, str]) -> None:
    path, _ = pem
    assert card("sign", str(path), stdin="").returncode != 0
    assert card("sign", str(path), "--nonce=a", "b").returncode != 0
