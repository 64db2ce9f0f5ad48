"""Who gets which history, what it selects, when a purge is believed (services/audit/rules.py)."""

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest

from services.audit.records import Audience, HistorySelection
from services.audit.rules import audience, closed_to, erased_while_open, purge_confirmed, selection
from services.audit.schemas import HistoryQuery
from services.common.actors import Actor, ActorKind
from services.common.events import Event, EventType
from services.common.grants import Action, Grant

AT = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
PATIENT = Actor(kind=ActorKind.PATIENT, id="pat_1", ins="280017512345678")
DOCTOR = Actor(kind=ActorKind.PROFESSIONAL, id="rpps:10000000009", rpps="10000000009")
AGENT = Actor(kind=ActorKind.COUNTER_AGENT, id="agent:1")


def grant(allowed: bool, rule: str = "R-HOLDER", patient_id: str | None = "pat_1") -> Grant:
    return Grant(
        allowed=allowed,
        action=Action.READ_HISTORY,
        rule=rule,
        reason="",
        patient_id=patient_id,
        decided_at=AT,
    )


@pytest.mark.parametrize(
    ("actor", "decided", "expected"),
    [
        (PATIENT, grant(True), Audience.DOSSIER),
        (DOCTOR, grant(True, "R-MEDECIN-TRAITANT"), Audience.DOSSIER),
        (DOCTOR, grant(False, "R-HISTORY-HOLDER"), Audience.DOCUMENT_AUTHOR),
        (DOCTOR, grant(False, "R-BLOCKED"), None),
        (AGENT, grant(False, "R-HISTORY-HOLDER"), None),  # only professionals write documents
    ],
)
def test_history_audience_follows_the_grant(
    actor: Actor, decided: Grant, expected: Audience | None
) -> None:
    assert audience(actor, decided) is expected


def never() -> bool:
    raise AssertionError("the store was asked what the answer does not need")


@pytest.mark.parametrize(
    ("actor", "decided", "dossier_open", "wrote_in", "closed"),
    [
        (
            PATIENT,
            grant(True),
            never,
            never,
            False,
        ),  # the patient's side keeps the history of a closed dossier
        (DOCTOR, grant(True, patient_id=None), never, never, False),  # no dossier, nothing to close
        (DOCTOR, grant(True), lambda: True, never, False),
        (DOCTOR, grant(True), lambda: False, never, True),  # who could read it is refused
        (
            DOCTOR,
            grant(False, "R-HISTORY-HOLDER"),
            lambda: False,
            lambda: True,
            True,
        ),  # an author too
        (
            DOCTOR,
            grant(False, "R-HISTORY-HOLDER"),
            lambda: False,
            lambda: False,
            False,
        ),  # anyone else: no trace
    ],
)
def test_a_closed_dossier_refuses_its_history_to_professionals(
    actor: Actor,
    decided: Grant,
    dossier_open: Callable[[], bool],
    wrote_in: Callable[[], bool],
    closed: bool,
) -> None:
    assert closed_to(actor, decided, dossier_open, wrote_in) is closed


def test_history_selection_narrows_by_dates_actor_and_type_and_hides_documents() -> None:
    request = HistoryQuery(
        date_from=date(2026, 12, 1),
        date_to=date(2026, 12, 2),
        professional_id=DOCTOR.id,
        action="document_read",
    )
    chosen = selection(grant(True), Audience.DOSSIER, PATIENT.id, request, ["doc_1"])
    assert chosen == HistorySelection(
        patient_id="pat_1",
        since=datetime(2026, 12, 1, tzinfo=UTC),
        before=datetime(2026, 12, 2, 23, 59, 59, 999999, tzinfo=UTC),
        actor_id=DOCTOR.id,
        type="document_read",
        hidden_documents=("doc_1",),
    )


def test_an_authors_history_selects_the_traces_of_their_documents_only() -> None:
    chosen = selection(
        grant(False, "R-HISTORY-HOLDER"), Audience.DOCUMENT_AUTHOR, DOCTOR.id, HistoryQuery(), []
    )
    assert chosen == HistorySelection(patient_id="pat_1", document_author=DOCTOR.id)


def purged_event(patient_id: str = "pat_1") -> Event:
    return Event(
        type=EventType.DOSSIER_PURGED,
        source="dossier",
        occurred_at=AT,
        patient_id=patient_id,
        dossier_id="dos_1",
    )


@pytest.mark.parametrize(
    ("record", "confirmed"),
    [
        ({"purged": True, "patient_id": "pat_1"}, True),
        ({"purged": True, "patient_id": "pat_2"}, False),  # another patient's dossier: a lie
        ({"purged": False, "patient_id": "pat_1"}, False),  # still there
        ({"purged": False}, False),
    ],
)
def test_a_purge_is_believed_only_when_dossier_confirms_it_for_that_patient(
    record: dict[str, object], confirmed: bool
) -> None:
    assert purge_confirmed(purged_event(), record) is confirmed


def test_a_trail_erased_while_its_dossier_opened_before_the_purge_is_reported() -> None:
    purged = {"pat_1": AT, "pat_2": AT}
    dossiers = {
        "pat_1": {"status": "open", "opened_at": "2026-11-01T00:00:00+00:00"},
        "pat_2": {"status": "open", "opened_at": "2026-12-03T00:00:00+00:00"},
    }  # a new dossier since
    assert erased_while_open(purged, dossiers) == [
        {
            "chain": "pat_1",
            "problem": "purged while its dossier is still there",
            "dossier_status": "open",
        }
    ]
