"""A software professional card for development: a P-256 key that signs login challenges (ES256).

    python -m deploy.local.card new var/cards/alex.pem     # prints the public key (JSON string)
    python -m deploy.local.card sign var/cards/alex.pem NONCE   # prints the signature, base64url

Real cards (CPS) keep the private key on the chip; this file keeps it on disk, for development only.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from services.common.cards import Card


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    new = commands.add_parser("new", help="make a card; print its public key as a JSON string")
    new.add_argument("path", type=Path)
    sign = commands.add_parser("sign", help="sign a challenge nonce")
    sign.add_argument("path", type=Path)
    sign.add_argument("nonce")
    args = parser.parse_args()
    if args.command == "new":
        card = Card()
        card.save(args.path)
        print(json.dumps(card.public_pem))
    else:
        print(Card.load(args.path).sign(args.nonce))


if __name__ == "__main__":
    main()
