"""audit's rules, as pure functions: who gets which history, what a history selects, when a purge is
believed and when an erased trail is a problem."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, time
from typing import Any

from services.audit.records import Audience, HistorySelection
from services.audit.schemas import HistoryQuery
from services.common.actors import Actor, ActorKind
from services.common.events import Event
from services.common.grants import Grant

HISTORY_HOLDER = "R-HISTORY-HOLDER"  # consent's refusal of a professional who holds no right to the whole history


def audience(actor: Actor, grant: Grant) -> Audience | None:
    """Whom this history is for; None when the reader is refused. A professional refused the dossier's history
    still sees the traces of the documents they wrote."""
    if grant.allowed:
        return Audience.DOSSIER
    if actor.kind is ActorKind.PROFESSIONAL and grant.rule == HISTORY_HOLDER:
        return Audience.DOCUMENT_AUTHOR
    return None


def closed_to(
    actor: Actor, grant: Grant, dossier_open: Callable[[], bool], wrote_in: Callable[[], bool]
) -> bool:
    """Closed or being deleted: nothing is readable by professionals, history included (the patient's side
    keeps it). One who could read it otherwise is refused, like any closed-dossier read; anyone else gets what
    they get of any dossier they wrote nothing in: no trace. The store is asked only what the answer needs."""
    if actor.kind is ActorKind.PATIENT or not grant.patient_id or dossier_open():
        return False
    return grant.allowed or wrote_in()


def selection(
    grant: Grant,
    audience: Audience,
    reader_id: str,
    request: HistoryQuery,
    hidden_documents: list[str],
) -> HistorySelection:
    """The traces a history shows: the dossier's (or the reader's documents'), as the request narrows them,
    without any of a document hidden from this reader."""
    return HistorySelection(
        patient_id=grant.patient_id,
        document_author=reader_id if audience is Audience.DOCUMENT_AUTHOR else None,
        since=datetime.combine(request.date_from, time.min, UTC) if request.date_from else None,
        before=datetime.combine(request.date_to, time.max, UTC) if request.date_to else None,
        actor_id=request.professional_id or None,
        type=request.action or None,
        hidden_documents=tuple(hidden_documents),
    )


def purge_confirmed(event: Event, record: Mapping[str, Any]) -> bool:
    """Whether dossier's answer (`purge_record`) confirms this dossier_purged: purged, and the patient's."""
    return bool(record["purged"]) and record.get("patient_id") == event.patient_id


def erased_while_open(
    purged: Mapping[str, datetime], dossiers: Mapping[str, Mapping[str, str]]
) -> list[dict[str, Any]]:
    """Chains erased by a purge decided while the patient's dossier, opened before it, still exists."""
    return [
        {
            "chain": patient_id,
            "problem": "purged while its dossier is still there",
            "dossier_status": dossier["status"],
        }
        for patient_id, dossier in dossiers.items()
        if datetime.fromisoformat(dossier["opened_at"]) <= purged[patient_id]
    ]
