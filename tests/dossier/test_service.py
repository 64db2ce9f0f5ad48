"""dossier over the real broker and store: opening, deposit, search, read, refusals."""

import base64
from collections.abc import Callable
from typing import Any

import pytest

from services.common.errors import (
    AccessDenied,
    Conflict,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    Unauthenticated,
)
from tests.conftest import People
from tests.identities import make_ins
from tests.journeys import PDF, submission


@pytest.fixture
def opened(cluster: Any, people: People) -> tuple[str, str]:
    ins, patient = people.patient()
    cluster.dossier.open(patient, {"ins": ins})
    return ins, patient


def test_patient_opens_own_dossier_and_channel_is_recorded(cluster: Any, people: People) -> None:
    ins, patient = people.patient()
    opened = cluster.dossier.open(patient, {"ins": ins})
    assert opened["status"] == "open" and opened["channel"] == "patient_online"


def test_second_opening_is_refused_with_the_state(cluster: Any, opened: tuple[str, str]) -> None:
    ins, patient = opened
    with pytest.raises(Conflict) as error:
        cluster.dossier.open(patient, {"ins": ins})
    assert error.value.details == [{"state": "open"}]


def test_pharmacist_opening_needs_the_patients_consent(cluster: Any, people: People) -> None:
    ins, _ = people.patient()
    _, pharmacist = people.professional("21")
    with pytest.raises(InvalidInput, match="patient_consent"):
        cluster.dossier.open(pharmacist, {"ins": ins})
    assert (
        cluster.dossier.open(pharmacist, {"ins": ins, "patient_consent": True})["channel"]
        == "pharmacy"
    )


def test_opening_for_an_unregistered_patient_is_not_found(cluster: Any, people: People) -> None:
    _, doctor = people.professional()
    with pytest.raises(NotFound):
        cluster.dossier.open(doctor, {"ins": make_ins(), "patient_consent": True})


def test_deposit_with_consent_then_patient_reads_the_same_bytes(
    cluster: Any, people: People, opened: tuple[str, str]
) -> None:
    ins, patient = opened
    _, doctor = people.professional()
    cluster.consent.record_consent(doctor, ins)
    added = cluster.dossier.add_document(doctor, ins, submission())
    assert added["size"] == len(PDF) and added["status"] == "current"

    listed = cluster.dossier.search(patient, ins)["documents"]
    assert [d["document_id"] for d in listed] == [added["document_id"]]
    read = cluster.dossier.read_document(patient, ins, added["document_id"])
    assert base64.b64decode(read["content"]) == PDF


def test_professional_without_consent_is_refused_with_the_rule(
    cluster: Any, people: People, opened: tuple[str, str]
) -> None:
    ins, _ = opened
    _, stranger = people.professional()
    with pytest.raises(AccessDenied) as error:
        cluster.dossier.search(stranger, ins)
    assert error.value.details == [{"rule": "R-NO-CONSENT"}]
    with pytest.raises(AccessDenied):
        cluster.dossier.add_document(stranger, ins, submission())


def test_category_outside_the_professions_rights_is_refused_and_nothing_stored(
    cluster: Any, people: People, opened: tuple[str, str]
) -> None:
    ins, patient = opened
    _, physio = people.professional("70")
    cluster.consent.record_consent(physio, ins)
    with pytest.raises(AccessDenied) as error:
        cluster.dossier.add_document(physio, ins, submission(category="42"))
    assert error.value.details == [{"rule": "R-MATRIX-CATEGORY"}]
    assert cluster.dossier.search(patient, ins)["documents"] == []


@pytest.mark.parametrize(
    "change, field",
    [
        ({"category": "77"}, "category"),
        ({"format": "application/zip"}, "format"),
        ({"care_date": "yesterday"}, "care_date"),
        ({"surprise": 1}, "surprise"),
        ({"content": base64.b64encode(b"not a pdf").decode()}, "content"),
    ],
)
def test_bad_submission_names_the_field_and_stores_nothing(
    cluster: Any, people: People, opened: tuple[str, str], change: dict[str, Any], field: str
) -> None:
    ins, patient = opened
    _, doctor = people.professional()
    cluster.consent.record_consent(doctor, ins)
    with pytest.raises(InvalidInput) as error:
        cluster.dossier.add_document(doctor, ins, submission(**change))
    assert field in [d["field"] for d in error.value.details]
    assert cluster.dossier.search(patient, ins)["documents"] == []


def test_oversized_document_is_refused(
    cluster: Any,
    people: People,
    opened: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    restart_settings: Callable[[], None],
) -> None:
    monkeypatch.setenv("DMP_MAX_DOCUMENT_BYTES", "1000")
    restart_settings()
    ins, patient = opened
    _, doctor = people.professional()
    cluster.consent.record_consent(doctor, ins)
    with pytest.raises(PayloadTooLarge):
        cluster.dossier.add_document(doctor, ins, submission(PDF + b"x" * 2000))
    assert cluster.dossier.search(patient, ins)["documents"] == []


def test_identical_document_is_refused(
    cluster: Any, people: People, opened: tuple[str, str]
) -> None:
    ins, _ = opened
    _, doctor = people.professional()
    cluster.consent.record_consent(doctor, ins)
    cluster.dossier.add_document(doctor, ins, submission())
    with pytest.raises(Conflict, match="identical"):
        cluster.dossier.add_document(doctor, ins, submission())


def test_forged_token_is_refused_by_the_service(cluster: Any, opened: tuple[str, str]) -> None:
    ins, _ = opened
    with pytest.raises(Unauthenticated):
        cluster.dossier.search("eyJhbGciOiJub25lIn0.e30.", ins)


def test_bad_ins_is_refused_naming_the_field(cluster: Any, opened: tuple[str, str]) -> None:
    _, patient = opened
    with pytest.raises(InvalidInput) as error:
        cluster.dossier.search(patient, "123")
    assert error.value.details[0]["field"] == "ins"
