"""A software professional card for development: a P-256 key that signs login challenges (ES256).

    python -m deploy.local.card new var/cards/alex.pem     # prints the public key (JSON string)
    python -m deploy.local.card sign var/cards/alex.pem NONCE   # prints the signature, base64url

Real cards (CPS) keep the private key on the chip; this file keeps it on disk, for development only.
"""

from __future__ import annotations

import argparse
import base64
import json
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)


class Card:
    def __init__(self, key: ec.EllipticCurvePrivateKey | None = None) -> None:
        self.key = key or ec.generate_private_key(ec.SECP256R1())

    @classmethod
    def load(cls, path: Path) -> Card:
        key = load_pem_private_key(path.read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return cls(key)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
        path.chmod(0o600)

    @property
    def public_pem(self) -> str:
        return self.key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()

    def sign(self, nonce: str) -> str:
        """ES256 as JOSE has it: r||s, 32 bytes each, base64url without padding."""
        r, s = decode_dss_signature(self.key.sign(nonce.encode(), ec.ECDSA(hashes.SHA256())))
        return base64.urlsafe_b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).rstrip(b"=").decode()


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
