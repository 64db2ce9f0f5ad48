"""audit's contracts: what its RPC methods take (the history's query) and give back (the history, as plain labels
or FHIR; a verification of the chains; a checkpoint's receipt), and the history as the gateway publishes it. The
methods' answers go out as they always did: times as the strings audit writes (`isoformat()`, `+00:00`), nothing
null that used to be absent."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, field_serializer

from services.audit.records import Audience
from services.common.events import ActorRef
from services.common.schemas import Strict


class _Answer(BaseModel):
    # Which shape a problem has is told by its fields alone (verify's lists mix two of them): none is ignored.
    model_config = ConfigDict(extra="forbid")


# Verification


class CheckpointReceipt(_Answer):
    """What signing the chain heads answers: the checkpoint's moment (epoch ms, as signed) and how many chains."""

    at_ms: int
    chains: int


class ChainBreak(_Answer):
    """The first broken or missing link of a chain."""

    chain: str
    seq: int
    problem: str  # "altered", "missing", "out of order"


class ErasedWhileOpen(_Answer):
    """A chain erased by a purge decided while the patient's dossier, opened before it, still exists."""

    chain: str
    problem: str
    dossier_status: str


class BadSignature(_Answer):
    """A checkpoint whose signature does not verify (`checkpoint`: its moment, epoch ms)."""

    checkpoint: int
    problem: str


class RewrittenHead(_Answer):
    """A head a checkpoint signed whose trace is gone or hashes otherwise now."""

    checkpoint: int
    chain: str
    seq: int
    problem: str


class VerifyReport(_Answer):
    chains: int
    traces: int
    breaks: list[ErasedWhileOpen | ChainBreak]
    checkpoint_mismatches: list[BadSignature | RewrittenHead]
    intact: bool


# History


class HistoryQuery(Strict):
    date_from: date | None = None
    date_to: date | None = None
    professional_id: Annotated[str, Field(max_length=64)] | None = Field(
        None, description="who acted"
    )
    action: Annotated[str, Field(pattern=r"^[a-z_]{3,40}$")] | None = Field(
        None, description="event type"
    )
    limit: Annotated[int, Field(ge=1, le=200)] = 50
    cursor: Annotated[str, Field(max_length=200)] | None = None
    language: Literal["fr", "en"] = "fr"
    format: Literal["json", "fhir"] = Field(
        "json", description="fhir: a Bundle of FHIR R4 AuditEvent"
    )


class TraceView(_Answer):
    """One trace as the history shows it (services/audit/labels.py `public`)."""

    event_id: str
    type: str
    label: str
    occurred_at: str  # isoformat() of the trace's moment, as written
    actor: ActorRef | None
    document_id: str | None
    outcome: str
    rule: str | None
    emergency: bool

    @field_serializer("actor")
    def _as_written(self, actor: ActorRef | None) -> dict[str, Any] | None:
        # The fields the trace was written with, no more (a trace older than a field of the actor shows none).
        return None if actor is None else actor.model_dump(mode="json", exclude_unset=True)


class HistoryView(_Answer):
    traces: list[TraceView]
    total: int  # every trace this reader may see, not only this page's
    next_cursor: str | None
    audience: Audience


# The history as FHIR R4 (services/audit/labels.py `audit_event`): FHIR's own names; FHIR JSON has no nulls, so an
# element the trace has nothing for is absent.


def _absent(value: object) -> bool:
    return value is None


class Coding(_Answer):
    system: str
    code: str
    display: str | None = Field(None, exclude_if=_absent)


class CodeableConcept(_Answer):
    coding: list[Coding]


class Identifier(_Answer):
    system: str
    value: str


class Reference(_Answer):
    identifier: Identifier


class Observer(_Answer):
    display: str


class Source(_Answer):
    observer: Observer


class Agent(_Answer):
    who: Reference
    requestor: bool


class Entity(_Answer):
    what: Reference
    type: Coding


class AuditEvent(_Answer):
    resourceType: Literal["AuditEvent"]  # noqa: N815 (FHIR's own name)
    id: str
    type: Coding
    subtype: list[Coding]
    action: str
    recorded: str  # isoformat() in UTC, as written
    outcome: str
    agent: list[Agent]
    source: Source
    entity: list[Entity]
    outcomeDesc: str | None = Field(None, exclude_if=_absent)  # noqa: N815
    purposeOfEvent: list[CodeableConcept] | None = Field(None, exclude_if=_absent)  # noqa: N815


class BundleEntry(_Answer):
    resource: AuditEvent


class FhirBundle(_Answer):
    resourceType: Literal["Bundle"]  # noqa: N815 (FHIR's own name)
    type: Literal["collection"]
    total: int
    entry: list[BundleEntry]


class HistoryAnswer(RootModel[HistoryView | FhirBundle]):
    """The history as asked: plain labels (`format` json) or a FHIR Bundle. One model, so that the method's answer
    is one type, which its client shows as the JSON object it is."""


# The history as the REST API publishes it (`format` json)


class Trace(BaseModel):
    event_id: str
    type: str
    label: str = Field(description="what happened, in plain words (French or English)")
    occurred_at: datetime
    actor: dict[str, Any] | None
    document_id: str | None
    outcome: str
    rule: str | None
    emergency: bool = False


class History(BaseModel):
    traces: list[Trace]
    total: int
    next_cursor: str | None = None
    audience: Literal["dossier", "document_author"] = Field(
        description="dossier: the patient's side or the médecin traitant; document_author: traces of your documents"
    )
