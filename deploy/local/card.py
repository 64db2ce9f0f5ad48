"""A software professional card for development: a P-256 key that signs login challenges (ES256).

    python -m deploy.local.card new var/cards/alex.pem                  # prints the public key (JSON string)
    python -m deploy.local.card sign var/cards/alex.pem --nonce="$NONCE" # prints the signature, base64url
    python -m deploy.local.card sign var/cards/alex.pem -- "$NONCE"      # the same
    printf %s "$NONCE" | python -m deploy.local.card sign var/cards/alex.pem   # nonce from stdin

A nonce is base64url and may begin with '-': everything after the card's path is the nonce, taken
verbatim (`--nonce=N`, `--nonce N`, `-- N` or a bare `N`), never read as an option.

Real cards (CPS) keep the private key on the chip; this file keeps it on disk, for development only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from services.common.cards import Card


def nonce_from(words: list[str], stdin: str | None) -> str:
    """The nonce from what follows the card's path; `stdin` (already read) when nothing does.

    Raises ValueError when there is no nonce or more than one word could be it."""
    if words[:1] == ["--"] or words[:1] == ["--nonce"]:
        words = words[1:]
        if len(words) != 1:
            raise ValueError("give exactly one nonce after '--' or '--nonce'")
        return words[0]
    if len(words) == 1:
        word = words[0]
        return word.removeprefix("--nonce=") if word.startswith("--nonce=") else word
    if words:
        raise ValueError(
            "give exactly one nonce (quote it; a nonce beginning with '-' goes as --nonce=N)"
        )
    nonce = (stdin or "").strip()
    if not nonce:
        raise ValueError("no nonce: give --nonce=N, or pipe it on stdin")
    return nonce


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(
        prog="python -m deploy.local.card",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    new = commands.add_parser("new", help="make a card; print its public key as a JSON string")
    new.add_argument("path", type=Path)
    sign = commands.add_parser(
        "sign", help="sign a challenge nonce (--nonce=N, -- N, N, or on stdin)"
    )
    sign.add_argument("path", type=Path)
    sign.add_argument("nonce", nargs="*", help="--nonce=N, -- N or N; read from stdin when absent")
    if len(argv) >= 2 and argv[0] == "sign" and argv[1] not in ("-h", "--help"):
        # the words after the path go to nonce_from verbatim: argparse would take a nonce beginning
        # with '-' for an option, and drops or keeps a '--' depending on the Python version
        try:
            nonce = nonce_from(argv[2:], None if argv[2:] else sys.stdin.read())
        except ValueError as error:
            sign.error(str(error))
        print(Card.load(Path(argv[1])).sign(nonce))
        return
    args = parser.parse_args(argv)
    if args.command == "new":
        card = Card()
        card.save(args.path)
        print(json.dumps(card.public_pem))
    else:  # `sign` without its path: argparse has already answered the usage error or the help
        parser.error("sign needs the card's path")


if __name__ == "__main__":
    main()
