"""What the dossier service records, as values: dossiers, documents, the personal space's versions,
idempotency claims, pharmacy fees, reimbursement lines. The store turns them into documents and back
(services/dossier/store.py); nothing here knows how they are stored."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: the contracts import ActorRef from here
    from services.dossier.schemas import (
        Coded,
        Concept,
        ImagingStudy,
        PersonName,
        ReimbursedItem,
        RelatedId,
    )

# An actor as events and records carry it (services/common/actors.py Actor.ref): ids and codes, never names.
ActorRef = dict[str, str | None]


class Status(StrEnum):
    """Where a dossier stands in its lifecycle (services/dossier/lifecycle.py)."""

    OPEN = "open"
    CLOSED = "closed"
    DELETION_REQUESTED = "deletion_requested"


class Channel(StrEnum):
    """Who opened the dossier: never something the caller claims."""

    PATIENT_ONLINE = "patient_online"
    COUNTER = "counter"
    PHARMACY = "pharmacy"
    PROFESSIONAL = "professional"


class DocumentStatus(StrEnum):
    CURRENT = "current"
    REPLACED = "replaced"
    ARCHIVED = "archived"
    DELETED = "deleted"  # a tombstone: its content is destroyed


class Visibility(StrEnum):
    """TRE_A07 codes restricting who sees a document (its author always does)."""

    MASKED = "MASQUE_PS"  # the patient's mask: hidden from professionals
    INVISIBLE_TO_PATIENT = "INVISIBLE_PATIENT"  # a result awaiting its announcement consultation
    INVISIBLE_TO_REPRESENTATIVES = "INVISIBLE_REPRESENTANTS_LEGAUX"  # a minor's secret


@dataclass(frozen=True)
class DossierKey:
    """The dossier's data key, wrapped by the master key `master` names (its fingerprint)."""

    wrapped: bytes
    master: str


@dataclass(frozen=True)
class Dossier:
    id: str
    ins: str
    patient_id: str
    status: Status
    opened_at: datetime
    opened_by: ActorRef
    channel: str  # a Channel; data of earlier versions may name others
    consent_recorded_by: (
        str  # who recorded the patient's consent to opening (the patient, opening it)
    )
    key: DossierKey | None  # None once destroyed (deletion on request): the content is unreadable
    # The moments of the latest transition only: each transition replaces those of the one before.
    closed_at: datetime | None = None
    deletion_requested_at: datetime | None = None
    reopened_at: datetime | None = None
    purge_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self.status is Status.OPEN


@dataclass(frozen=True)
class DossierState:
    """What a dossier's state is, without its key: for the feed and for audit."""

    id: str
    ins: str
    patient_id: str
    status: Status
    opened_at: datetime

    @property
    def is_open(self) -> bool:
        return self.status is Status.OPEN


@dataclass(frozen=True)
class Metadata:
    """What the author says of a document at deposit."""

    category: str
    type_code: str
    title: str
    care_date: date
    format: str
    confidentiality: str = "N"
    visibility: tuple[Visibility, ...] = ()
    unique_id: str | None = None
    care_start: str | None = None  # as sent, with its time and offset
    care_end: str | None = None
    imaging_study: ImagingStudy | None = None
    format_code: Coded | None = None
    facility_type: Concept | None = None
    practice_setting: Concept | None = None
    events: tuple[Concept, ...] = ()
    related: tuple[RelatedId, ...] = ()


@dataclass(frozen=True)
class Document:
    """A document's metadata and what the service knows of it; its content is sealed apart."""

    id: str
    dossier_id: str
    patient_id: str | None  # none on documents stored before it was kept
    metadata: Metadata
    author: ActorRef
    created_at: datetime
    size: int
    sha256: str
    status: DocumentStatus = DocumentStatus.CURRENT
    replaces: str | None = None
    replaced_by: str | None = None
    revision: int | None = 1  # None: stored before revisions (its first)
    updated_at: datetime | None = None  # None: never changed since its deposit
    # While invisible to the patient: when it becomes visible anyway, when its author is reminded.
    release_at: datetime | None = None
    remind_at: datetime | None = None
    idempotency: str | None = None  # the (actor, key) of the request that deposited it
    idempotency_fingerprint: str | None = None
    # As registered at deposit; None: stored before names were kept.
    author_name: PersonName | None = None
    # A document deposited with others (ITI-65) waits for them: no reader sees it and its events are held until
    # the deposit is released, all its documents written (one write); `pending` names that deposit.
    pending: str | None = None

    @property
    def category(self) -> str:
        return self.metadata.category

    @property
    def visibility(self) -> tuple[Visibility, ...]:
        return self.metadata.visibility

    @property
    def author_id(self) -> str:
        return str(self.author["id"])

    def with_visibility(self, codes: tuple[Visibility, ...]) -> Document:
        return replace(self, metadata=replace(self.metadata, visibility=codes))


@dataclass(frozen=True)
class IdempotencyClaim:
    """A deposit's idempotency key, claimed by the first request that used it."""

    fingerprint: str  # of that request (the INS and the body)
    claimed_at: datetime
    document_id: str | None  # None while that request is under way (or died)


@dataclass(frozen=True)
class PersonalSpaceVersion:
    version: int
    sealed: bytes  # the content as JSON, sealed with the dossier's key
    updated_at: datetime
    updated_by: ActorRef


@dataclass(frozen=True)
class OpeningFee:
    """A pharmacy's fee for opening a patient's dossier: once per patient, ever."""

    patient_id: str
    dossier_id: str
    pharmacist_id: str
    organisation: str
    month: str  # YYYY-MM
    opened_at: datetime


@dataclass(frozen=True)
class PurgeRecord:
    patient_id: str | None
    purged_at: datetime


@dataclass(frozen=True)
class FeedLine:
    """One reimbursement line of the Assurance Maladie feed, in a patient's dossier."""

    line_id: str
    dossier_id: str
    care_date: date
    items: tuple[ReimbursedItem, ...]
    billed_cents: int
    reimbursed_cents: int
    prescriber_rpps: str | None = None


@dataclass(frozen=True)
class SubmissionSet:
    """An ITI-65 submission set as its source sent it (MHD's SubmissionSet List), kept with its deposit: who
    submitted which documents, in their order. What a caller is shown of it is decided by its documents."""

    id: str
    dossier_id: str
    patient_id: str
    author: ActorRef
    submitted_at: datetime
    document_ids: tuple[str, ...]
    unique_id: str | None = None  # the source's uniqueId (List.identifier, use usual)
    source_id: str | None = None  # the source's OID URN (MHD's ihe-sourceId)
    title: str | None = None
    designation_type: Coded | None = None  # MHD's ihe-designationType (JDV_J03 content type)
    intended_recipients: tuple[str, ...] = ()  # references (PDSm's pdsm-ext-intended-recipient)
    # As registered at deposit; None: stored before names were kept.
    author_name: PersonName | None = None
    # Of the request that deposited it: its retry completes (or answers) it, another request is refused.
    fingerprint: str | None = None
    pending: bool = False  # its deposit not released yet (begun, or cut short)
    # When its deposit was last taken in hand (its first attempt, or a retry that took over); None: at once
    # takeable (the attempt failed and said so, or the set was stored before this was kept).
    claimed_at: datetime | None = None

    @property
    def author_id(self) -> str:
        return str(self.author["id"])
