"""What audit keeps, as values: traces, chain heads, signed checkpoints, the history's selection and pages,
the dossier's state. The store turns them into documents and back (services/audit/store.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from services.common.events import ActorRef, Event, EventType, Outcome


class DossierState(StrEnum):
    """A dossier's state as its lifecycle events tell it."""

    OPEN = "open"
    CLOSED = "closed"
    DELETION_REQUESTED = "deletion_requested"


class Audience(StrEnum):
    """Whom a history is for: the dossier's readers see all of it, a document's author its documents' traces."""

    DOSSIER = "dossier"
    DOCUMENT_AUTHOR = "document_author"


@dataclass(frozen=True)
class Trace:
    """One event as the trail keeps it; `document_author` is known when the event names a document."""

    event_id: str
    type: EventType
    source: str
    occurred_at: datetime
    outcome: Outcome = Outcome.SUCCESS
    actor: ActorRef | None = None
    patient_id: str | None = None
    dossier_id: str | None = None
    document_id: str | None = None
    rule: str | None = None
    emergency: bool = False
    data: Mapping[str, str] = field(default_factory=dict)
    document_author: str | None = None


def trace_of(event: Event, document_author: str | None = None) -> Trace:
    return Trace(
        event_id=event.event_id,
        type=event.type,
        source=event.source,
        occurred_at=event.occurred_at,
        outcome=event.outcome,
        actor=event.actor,
        patient_id=event.patient_id,
        dossier_id=event.dossier_id,
        document_id=event.document_id,
        rule=event.rule,
        emergency=event.emergency,
        data=dict(event.data),
        document_author=document_author,
    )


@dataclass(frozen=True)
class Head:
    """The last trace of a chain: its place and its hash."""

    seq: int
    hash: str


@dataclass(frozen=True)
class Checkpoint:
    """The chain heads as signed at `at` (services/audit/checkpoints.py signs and checks)."""

    at: datetime
    heads: Mapping[str, Head]
    kid: str
    signature: str


@dataclass(frozen=True)
class HistorySelection:
    """Which traces of one patient's dossier a history shows, before paging."""

    patient_id: str | None
    document_author: str | None = None  # the author's audience: the traces of their documents only
    since: datetime | None = None
    before: datetime | None = None
    actor_id: str | None = None
    type: str | None = None  # as asked: an unknown type selects nothing
    hidden_documents: tuple[str, ...] = ()  # whose traces this reader may not see


@dataclass(frozen=True)
class HistoryPage:
    total: int  # every trace selected, not only this page's
    traces: tuple[Trace, ...]
    next_cursor: str | None
