"""Valid national identifiers for tests, built from the same formulas as the checks."""

from __future__ import annotations

import base64
import random

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from services.common.identifiers import ins_key, luhn_valid


def make_ins(rng: random.Random | None = None, corsica: str | None = None) -> str:
    rng = rng or random.Random()
    department = corsica or f"{rng.randint(1, 95):02d}"
    nir = f"{rng.choice('12')}{rng.randint(0, 99):02d}{rng.randint(1, 12):02d}{department}" \
          f"{rng.randint(1, 999):03d}{rng.randint(1, 999):03d}"
    return f"{nir}{ins_key(nir):02d}"


def make_rpps(rng: random.Random | None = None) -> str:
    rng = rng or random.Random()
    body = f"1{rng.randint(0, 10**9 - 1):09d}"
    check = next(d for d in "0123456789" if luhn_valid(body + d))
    return body + check


class Card:
    """A professional's smart card, as far as login is concerned: a P-256 key that signs (ES256)."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())

    @property
    def public_pem(self) -> str:
        return self.key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()

    def sign(self, nonce: str) -> str:
        r, s = decode_dss_signature(self.key.sign(nonce.encode(), ec.ECDSA(hashes.SHA256())))
        raw = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
