"""Ed25519 keys with key ids, as the environment holds them: a signing key `kid:<base64url 32-byte seed>`,
public keys a comma-separated list of `kid:<base64url 32-byte public key>`. The key id lets a new key be
published before it is used and an old one kept until the last thing it signed is gone (tokens, audit
checkpoints, messages on the bus)."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from services.common.errors import ConfigurationError


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64e(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: Ed25519PrivateKey

    @classmethod
    def parse(cls, text: str, variable: str = "DMP_TOKEN_SIGNING_KEY") -> SigningKey:
        kid, _, material = text.partition(":")
        try:
            return cls(kid, Ed25519PrivateKey.from_private_bytes(b64d(material)))
        except ValueError:
            raise ConfigurationError(f"{variable} must be kid:<base64url seed>") from None

    @classmethod
    def generate(cls, kid: str) -> SigningKey:
        return cls(kid, Ed25519PrivateKey.generate())

    def serialise(self) -> str:
        seed = self.private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return f"{self.kid}:{b64e(seed)}"

    def public(self) -> str:
        raw = self.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return f"{self.kid}:{b64e(raw)}"


def parse_public_keys(
    text: str, variable: str = "DMP_TOKEN_PUBLIC_KEYS"
) -> dict[str, Ed25519PublicKey]:
    keys: dict[str, Ed25519PublicKey] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        kid, _, material = item.partition(":")
        try:
            keys[kid] = Ed25519PublicKey.from_public_bytes(b64d(material))
        except ValueError:
            raise ConfigurationError(f"{variable} must be kid:<base64url key>[,...]") from None
    if not keys:
        raise ConfigurationError(f"{variable} holds no key")
    return keys
