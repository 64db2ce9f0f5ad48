"""Signing a login challenge with a card's (or a system client's) private key: ES256 as JOSE has it.

Used by operator commands (the reimbursement import logs in as the feed) and by development tools;
a real CPS card keeps its key on the chip and signs there.
"""

from __future__ import annotations

import base64
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
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{path.name}: a card's key is an EC (P-256) private key")
        return cls(key)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
        path.chmod(0o600)

    @property
    def public_pem(self) -> str:
        return (
            self.key.public_key()
            .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def sign(self, nonce: str) -> str:
        """ES256 as JOSE has it: r||s, 32 bytes each, base64url without padding."""
        r, s = decode_dss_signature(self.key.sign(nonce.encode(), ec.ECDSA(hashes.SHA256())))
        return (
            base64.urlsafe_b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
            .rstrip(b"=")
            .decode()
        )
