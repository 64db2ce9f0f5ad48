"""Content encryption: one AES-256-GCM data key per dossier, wrapped by a master key.

The master key comes from the settings (DMP_MASTER_KEY, 32 bytes base64url) and never touches
the store; a dossier's data key is stored only wrapped. Destroying the wrapped key destroys the
dossier's content (deletion on request, end of retention: issue 5). Associated data binds each
ciphertext to its place, so a blob copied to another document or dossier does not decrypt.
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.common.errors import ServiceUnavailable
from services.common.sealing import ContentCorrupted, open_sealed, seal
from services.dossier.records import Dossier, DossierKey

# The current master key first, then the previous ones (Settings.master_keys).
MasterKeys = tuple[bytes, ...]


def fingerprint(master_key: bytes) -> str:
    """Which master key wrapped a data key (never the key itself)."""
    return hashlib.sha256(b"dmp-master-key:" + master_key).hexdigest()[:16]


def by_fingerprint(masters: MasterKeys) -> dict[str, bytes]:
    """The current master key and, during a rotation, the previous ones (DMP_PREVIOUS_MASTER_KEYS,
    comma-separated), by fingerprint."""
    return {fingerprint(key): key for key in masters}


def new_key(masters: MasterKeys, dossier_id: str) -> DossierKey:
    """A fresh data key for a new dossier, wrapped by the current master key."""
    master = masters[0]
    return DossierKey(new_wrapped_data_key(master, dossier_id), fingerprint(master))


def data_key(masters: MasterKeys, dossier: Dossier) -> bytes:
    """The dossier's data key, unwrapped by whichever known master key wrapped it."""
    if dossier.key is None:
        raise ContentCorrupted(f"the key of dossier {dossier.id} was destroyed")
    master = by_fingerprint(masters).get(dossier.key.master)
    if master is None:
        raise ServiceUnavailable(
            "the master key that protects this dossier is not configured "
            "(keep it in DMP_PREVIOUS_MASTER_KEYS until the rotation is finished)"
        )
    return unwrap_data_key(master, dossier.key.wrapped, dossier.id)


def rewrapped(masters: MasterKeys, dossier: Dossier) -> DossierKey | None:
    """The key re-wrapped by the current master key, or None when it already is (or was destroyed)."""
    current = masters[0]
    if dossier.key is None or dossier.key.master == fingerprint(current):
        return None
    key = data_key(masters, dossier)
    return DossierKey(seal(current, key, f"dossier-key:{dossier.id}"), fingerprint(current))


def new_wrapped_data_key(master_key: bytes, dossier_id: str) -> bytes:
    return seal(master_key, AESGCM.generate_key(bit_length=256), f"dossier-key:{dossier_id}")


def unwrap_data_key(master_key: bytes, wrapped: bytes, dossier_id: str) -> bytes:
    return open_sealed(master_key, wrapped, f"dossier-key:{dossier_id}")
