"""Authenticated encryption (AES-256-GCM) of bytes bound to their place: the associated data names where
a ciphertext belongs (a document, a dossier's key, a message's destination), so that one copied elsewhere
does not open. Used for the dossiers' content at rest (services/dossier/crypto.py) and for what identity
hands notify to send (a one-time code and its address), which must not cross the bus in clear."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12


class ContentCorrupted(Exception):
    """Decryption failed: the bytes are not what was sealed there (altered, another key, another place)."""


def seal(key: bytes, plaintext: bytes, context: str) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, context.encode())


def open_sealed(key: bytes, sealed: bytes, context: str) -> bytes:
    try:
        return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], context.encode())
    except InvalidTag:
        raise ContentCorrupted(context) from None


def seal_json(key: bytes, value: Any, context: str) -> str:
    """`value` as JSON, sealed, in base64url: a string that travels in any JSON message."""
    return base64.urlsafe_b64encode(seal(key, json.dumps(value).encode(), context)).decode()


def open_json(key: bytes, text: str, context: str) -> Any:
    """What `seal_json` sealed; ContentCorrupted if it is not that."""
    try:
        sealed = base64.urlsafe_b64decode(text.encode())
    except ValueError:
        raise ContentCorrupted(context) from None
    return json.loads(open_sealed(key, sealed, context))
