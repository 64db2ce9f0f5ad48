"""dossier's own contracts: what its RPC methods give back (what they take, and the shapes the gateway publishes,
are shared with their callers in services/common/schemas.py).

Their JSON is what the methods answered before they were typed, field for field: instants as `isoformat()`
writes them (`+00:00`, where pydantic would write `Z`), and a moment that has not happened absent, not null.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, Field, PlainSerializer

from services.common.schemas import (
    UNIQUE_ID,
    AccessNote,
    CareSummary,
    Coded,
    DocumentMetadata,
    DossierOpened,
    DossierStatus,
    NameGroups,
    PersonName,
    Strict,
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


# Submission sets (ITI-65's SubmissionSet List, found again by ITI-66)

SUBMISSION_SET_ID = r"^sub_[0-9a-f]{32}$"
Token = Annotated[str, Field(max_length=330, pattern=r"^[^|,\s]*\|?[^|,\s]+$")]


class SubmissionSetSubmission(Strict):
    """What the source says of a submission set (MHD's SubmissionSet List), kept with its documents."""

    unique_id: Annotated[str, Field(pattern=UNIQUE_ID, max_length=128)] | None = Field(
        None,
        description="the source's uniqueId for the set (urn:oid:... or urn:uuid:...), used once per dossier",
    )
    source_id: Annotated[str, Field(pattern=UNIQUE_ID, max_length=128)] | None = Field(
        None, description="the submitting system's id (MHD sourceId: urn:oid:...)"
    )
    title: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    designation_type: Coded | None = Field(
        None, description="its clinical purpose (MHD designationType; JDV_J03 content type)"
    )
    intended_recipients: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=200, pattern=r"^\S+$")]],
        Field(max_length=10),
    ] = Field(default_factory=list, description="references to whom it is meant for (PDSm)")


class SubmissionSetSearch(Strict):
    """Every list field is an OR of its values (absent: no filter; empty: matches nothing); the fields AND. Only
    sets with at least one document the caller may see are ever found."""

    patient_id: Annotated[str, Field(max_length=64)] | None = Field(
        None, description="the patient's id (FHIR Patient id): the dossier when no INS is given"
    )
    submission_set_id: (
        Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=100)] | None
    ) = None
    identifier: (
        Annotated[list[Annotated[str, Field(max_length=128)]], Field(max_length=100)] | None
    ) = Field(
        None,
        description="its source's uniqueId, or the UUID URN of its own id (the List's entryUUID)",
    )
    source_id: (
        Annotated[list[Annotated[str, Field(max_length=128)]], Field(max_length=100)] | None
    ) = None
    designation_type: Annotated[list[Token], Field(max_length=100)] | None = Field(
        None, description="system|code or a bare code (any system)"
    )
    submitted_from: AwareDatetime | None = Field(
        None, description="submitted at or after this instant"
    )
    submitted_before: AwareDatetime | None = Field(
        None, description="submitted strictly before this instant"
    )
    # Its submitter's registered name (FHIR source.given / source.family), as DocumentSearch's author_*.
    source_given: NameGroups = Field(None, description="its submitter's given name starts so")
    source_family: NameGroups = Field(None, description="its submitter's family name starts so")
    source_given_exact: NameGroups = Field(
        None, description="its submitter's given name is exactly"
    )
    source_family_exact: NameGroups = Field(
        None, description="its submitter's family name is exactly"
    )
    limit: Annotated[int, Field(ge=0, le=100, description="0: the total only")] = 50
    cursor: Annotated[str, Field(max_length=200)] | None = None


class SubmissionSetView(BaseModel):
    """A submission set as a caller may see it: its documents are only those they may see, in its order."""

    submission_set_id: str
    dossier_id: str
    patient_id: str
    author: ActorRef
    author_name: PersonName | None = absent_when_none("its submitter's registered name, when kept")
    submitted_at: Instant
    unique_id: str | None = None
    source_id: str | None = None
    title: str | None = None
    designation_type: Coded | None = None
    intended_recipients: list[str] = Field(default_factory=list)
    documents: list[DocumentMetadata]


class SubmissionSetPage(BaseModel):
    """A page of the submission sets an actor may see (newest first), with an honest total."""

    submission_sets: list[SubmissionSetView]
    total: int
    next_cursor: str | None
    access: Access
    ins: str = Field(description="the patient's, for FHIR's subject")


class SubmissionSetFound(BaseModel):
    submission_set: SubmissionSetView
    access: Access
    ins: str


class SubmissionSetAdded(BaseModel):
    """A deposited submission set: its id and its documents, in the order sent."""

    submission_set_id: str
    documents: list[DocumentMetadata]
