"""Content encryption: one AES-256-GCM data key per dossier, wrapped by a master key.

The master key comes from the environment (DMP_MASTER_KEY, 32 bytes base64url) and never touches
the store; a dossier's data key is stored only wrapped. Destroying the wrapped key destroys the
dossier's content (deletion on request, end of retention: issue 5). Associated data binds each
ciphertext to its place, so a blob copied to another document or dossier does not decrypt.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.common.settings import secret_bytes

NONCE_BYTES = 12


class ContentCorrupted(Exception):
    """Decryption failed: the stored bytes are not what was written."""


def master_key_from_env() -> bytes:
    return secret_bytes("DMP_MASTER_KEY")


def seal(key: bytes, plaintext: bytes, context: str) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, context.encode())


def open_sealed(key: bytes, sealed: bytes, context: str) -> bytes:
    try:
        return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], context.encode())
    except InvalidTag:
        raise ContentCorrupted(context) from None


def new_wrapped_data_key(master_key: bytes, dossier_id: str) -> bytes:
    return seal(master_key, AESGCM.generate_key(bit_length=256), f"dossier-key:{dossier_id}")


def unwrap_data_key(master_key: bytes, wrapped: bytes, dossier_id: str) -> bytes:
    return open_sealed(master_key, wrapped, f"dossier-key:{dossier_id}")
