"""The dossier's lifecycle as pure rules: transitions, what each one records, the closed-dossier refusal."""

from datetime import UTC, datetime, timedelta

import pytest

from services.common.errors import Conflict
from services.common.grants import Action
from services.dossier import lifecycle
from services.dossier.records import Dossier, DossierKey, Status

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
OPENED = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def dossier(status: Status = Status.OPEN, **moments: datetime) -> Dossier:
    return Dossier(
        id="dos_1",
        ins="1850775123456",
        patient_id="pat_1",
        status=status,
        opened_at=OPENED,
        opened_by={"kind": "patient", "id": "pat_1"},
        channel="patient_online",
        consent_recorded_by="pat_1",
        key=DossierKey(b"wrapped", "fp"),
        **moments,
    )


@pytest.mark.parametrize("status", [Status.CLOSED, Status.DELETION_REQUESTED])
@pytest.mark.parametrize("action", [Action.READ, Action.WRITE])
def test_a_closed_dossier_refuses_its_content_to_everyone(status: Status, action: Action) -> None:
    assert lifecycle.content_refusal(dossier(status), action) == "R-DOSSIER-CLOSED"


@pytest.mark.parametrize("status", list(Status))
def test_a_dossier_is_managed_whatever_its_status(status: Status) -> None:
    assert lifecycle.content_refusal(dossier(status), Action.MANAGE) is None


def test_an_open_dossier_refuses_nothing_for_its_status() -> None:
    assert lifecycle.content_refusal(dossier(), Action.READ) is None


def test_closing_archives_for_ten_years() -> None:
    closed = lifecycle.transition(dossier(), "close", NOW)
    assert closed.status is Status.CLOSED and closed.closed_at == NOW
    assert closed.purge_at == NOW + timedelta(days=3653) and closed.key is not None


def test_reopening_forgets_the_closing_and_its_purge() -> None:
    reopened = lifecycle.transition(
        dossier(Status.CLOSED, closed_at=OPENED, purge_at=NOW), "reopen", NOW
    )
    assert reopened.status is Status.OPEN and reopened.reopened_at == NOW
    assert reopened.closed_at is None and reopened.purge_at is None


def test_deletion_destroys_the_key_and_purges_within_three_months() -> None:
    deleted = lifecycle.transition(dossier(Status.CLOSED, closed_at=OPENED), "delete", NOW)
    assert deleted.status is Status.DELETION_REQUESTED and deleted.key is None
    assert deleted.deletion_requested_at == NOW and deleted.purge_at == NOW + timedelta(days=90)
    assert deleted.closed_at is None


@pytest.mark.parametrize(
    ("status", "transition"),
    [
        (Status.OPEN, "reopen"),
        (Status.CLOSED, "close"),
        (Status.DELETION_REQUESTED, "delete"),
        (Status.DELETION_REQUESTED, "reopen"),
    ],
)
def test_a_transition_from_the_wrong_status_is_a_conflict(status: Status, transition: str) -> None:
    with pytest.raises(Conflict) as error:
        lifecycle.transition(dossier(status), transition, NOW)
    assert error.value.details == [{"state": status.value}]


def test_the_status_tells_the_latest_transitions_moments() -> None:
    closed = lifecycle.transition(dossier(), "close", NOW)
    assert lifecycle.moments(closed) == {
        "opened_at": OPENED.isoformat(),
        "closed_at": NOW.isoformat(),
        "purge_at": (NOW + timedelta(days=3653)).isoformat(),
    }
    assert lifecycle.moments(dossier()) == {"opened_at": OPENED.isoformat()}
