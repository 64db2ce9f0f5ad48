"""The personal space (blood group, allergies, treatments, contacts, wishes): sealed with the dossier's key,
each version under its own associated data, so that a version copied elsewhere does not open."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from services.common import sealing
from services.dossier import crypto
from services.dossier.records import ActorRef, Dossier, PersonalSpaceVersion
from services.dossier.schemas import PersonalSpace, PersonalSpaceAnswer


def sealed(
    masters: crypto.MasterKeys,
    dossier: Dossier,
    content: PersonalSpace,
    version: int,
    at: datetime,
    by: ActorRef,
) -> PersonalSpaceVersion:
    text = json.dumps(content.model_dump(mode="json"), ensure_ascii=False).encode()
    return PersonalSpaceVersion(
        version=version,
        sealed=sealing.seal(crypto.data_key(masters, dossier), text, _context(dossier, version)),
        updated_at=at,
        updated_by=by,
    )


def opened(
    masters: crypto.MasterKeys, dossier: Dossier, version: PersonalSpaceVersion | None
) -> dict[str, Any]:
    """A version as JSON, as answered."""
    return answer(masters, dossier, version).model_dump(mode="json")


def answer(
    masters: crypto.MasterKeys, dossier: Dossier, version: PersonalSpaceVersion | None
) -> PersonalSpaceAnswer:
    """A version as answered (an empty space, version 0, before the first)."""
    if version is None:
        return PersonalSpaceAnswer(content=content(masters, dossier, None), version=0)
    return PersonalSpaceAnswer(
        content=content(masters, dossier, version),
        version=version.version,
        updated_at=version.updated_at,
        updated_by=version.updated_by,
    )


def content(
    masters: crypto.MasterKeys, dossier: Dossier, version: PersonalSpaceVersion | None
) -> dict[str, Any]:
    """A version's content as JSON (schemas.PersonalSpace), an empty one before the first."""
    if version is None:
        return PersonalSpace().model_dump(mode="json")
    opened: dict[str, Any] = json.loads(
        sealing.open_sealed(
            crypto.data_key(masters, dossier), version.sealed, _context(dossier, version.version)
        )
    )
    return opened


def _context(dossier: Dossier, version: int) -> str:
    return f"personal-space:{dossier.id}:{version}"
