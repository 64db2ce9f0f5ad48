"""The history's selection and paging over traces, pure: what both stores answer (services/audit/store.py
fetches the dossier's traces by an indexed equality and hands them here; the in-memory store hands its own).

Newest first on the trace's time in epoch milliseconds, as stored, then its event id; a cursor is the last
trace's position (services/common/paging.py's format, so that cursors issued before still page on).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from services.audit.records import HistoryPage, HistorySelection, Trace
from services.common.paging import decode_cursor, encode_cursor

Stamped = tuple[int, Trace]  # a trace with its time in epoch ms, as the store keeps and compares it


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def selects(selection: HistorySelection, occurred_ms: int, trace: Trace) -> bool:
    """Whether the history shows this trace (the day's end excluded from `before`, as before)."""
    if selection.patient_id is None or trace.patient_id != selection.patient_id:
        return False
    if selection.document_author is not None and (
        trace.document_id is None or trace.document_author != selection.document_author
    ):
        return False
    if selection.since is not None and occurred_ms < ms(selection.since):
        return False
    if selection.before is not None and occurred_ms >= ms(selection.before):
        return False
    if selection.actor_id and (trace.actor is None or trace.actor.id != selection.actor_id):
        return False
    if selection.type and trace.type.value != selection.type:
        return False
    # every trace of a document this reader may not see, whatever its type
    return trace.document_id is None or trace.document_id not in selection.hidden_documents


def page(
    traces: Iterable[Stamped], selection: HistorySelection, cursor: str | None, limit: int
) -> HistoryPage:
    """The traces `selection` picks, newest first: their count, the first `limit` after `cursor`. The filter
    holds before paging, so that pages stay full."""
    position = decode_cursor(cursor) if cursor else None  # a foreign cursor is refused in any case
    if selection.patient_id is None:
        return HistoryPage(0, (), None)
    selected = sorted(
        ((at_ms, trace) for at_ms, trace in traces if selects(selection, at_ms, trace)),
        key=lambda stamped: (stamped[0], stamped[1].event_id),
        reverse=True,
    )
    following = [
        stamped
        for stamped in selected
        if position is None or (stamped[0], stamped[1].event_id) < position
    ][: limit + 1]
    shown = following[:limit]
    last = {"occurred_ms": shown[-1][0], "_id": shown[-1][1].event_id} if shown else {}
    return HistoryPage(
        total=len(selected),
        traces=tuple(trace for _, trace in shown),
        next_cursor=encode_cursor(last, "occurred_ms") if len(following) > limit else None,
    )
