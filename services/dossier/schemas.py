"""dossier's own contracts: what its RPC methods give back (what they take, and the shapes the gateway publishes,
are shared with their callers in services/common/schemas.py).

Their JSON is what the methods answered before they were typed, field for field: instants as `isoformat()`
writes them (`+00:00`, where pydantic would write `Z`), and a moment that has not happened absent, not null.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, PlainSerializer

from services.common.schemas import (
    AccessNote,
    CareSummary,
    DocumentMetadata,
    DossierOpened,
    DossierStatus,
)
from services.dossier.records import ActorRef

# An instant as the dossier has always answered it: datetime.isoformat(), e.g. 2026-12-03T14:21:36+00:00.
Instant = Annotated[datetime, PlainSerializer(datetime.isoformat, return_type=str)]


def _none(value: object) -> bool:
    return value is None


def absent_when_none(description: str | None = None) -> Any:
    """A field left out of the JSON while it is None (these answers never said null for it)."""
    return Field(None, exclude_if=_none, description=description)


class Access(AccessNote):
    """Said with every release of content: under which rule, whether it is an emergency access, until when."""

    expires_at: Instant | None = None


class Opened(DossierOpened):
    opened_at: Instant


class Lifecycle(DossierStatus):
    """Where the dossier stands: when it opened and the moments of its latest transition (those it had)."""

    opened_at: Instant
    closed_at: Instant | None = absent_when_none("when it was last closed")
    deletion_requested_at: Instant | None = absent_when_none("when deletion was asked for")
    reopened_at: Instant | None = absent_when_none()
    purge_at: Instant | None = absent_when_none(
        "when what is left is purged, unless reopened first"
    )


class Transitioned(BaseModel):
    """A transition done (close, reopen, deletion request): the status it led to, and when the purge is due."""

    dossier_id: str
    status: str
    purge_at: Instant | None = absent_when_none()


class PurgeRecordView(BaseModel):
    """Whether the dossier service purged a dossier, and whose it was (for audit)."""

    purged: bool
    patient_id: str | None
    purged_at: Instant | None = absent_when_none()


class PersonalSpaceAnswer(BaseModel):
    """A version of the personal space (version 0, empty, before the first)."""

    content: dict[str, Any] = Field(description="schemas.PersonalSpace's JSON, as it was sealed")
    version: int
    updated_at: Instant | None = absent_when_none()
    updated_by: ActorRef | None = absent_when_none()


class DocumentAdded(DocumentMetadata):
    """A deposited document; `replayed` (true) when it is the document of an earlier request with the same
    Idempotency-Key and body."""

    replayed: bool | None = absent_when_none()

    @classmethod
    def of(cls, metadata: DocumentMetadata, replayed: bool | None = None) -> DocumentAdded:
        return cls(**dict(metadata), replayed=replayed)


class DocumentPage(BaseModel):
    """A page of the documents an actor may see."""

    documents: list[DocumentMetadata]
    total: int
    next_cursor: str | None
    access: Access
    ins: str = Field(
        description="the patient's, for FHIR's subject when the search named them by id"
    )


class DocumentRead(BaseModel):
    document: DocumentMetadata
    content: str = Field(description="the document's bytes, base64")
    access: Access


class DocumentFound(BaseModel):
    """A document found by its id alone, with the patient's INS (and its content, if asked for)."""

    document: DocumentMetadata
    content: str | None = absent_when_none("the document's bytes, base64, when asked for")
    access: Access
    ins: str


class CareSummaryAnswer(CareSummary):
    access: Access
