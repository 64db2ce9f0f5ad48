"""consent over the real broker and store."""

from typing import Any

import pytest

from services.common.errors import AccessDenied, InvalidInput
from tests.conftest import People
from tests.journeys import eventually


def test_consent_recorded_twice_is_one_record(cluster: Any, people: People) -> None:
    ins, _ = people.patient()
    _, doctor = people.professional()
    first = cluster.consent.record_consent(doctor, ins)
    second = cluster.consent.record_consent(doctor, ins)
    assert first["created"] and not second["created"]
    assert first["recorded_at"] == second["recorded_at"]


def test_grant_follows_the_recorded_consent(cluster: Any, people: People) -> None:
    ins, _ = people.patient()
    _, doctor = people.professional()
    assert cluster.consent.grant(doctor, ins, "read")["rule"] == "R-NO-CONSENT"
    cluster.consent.record_consent(doctor, ins)
    grant = cluster.consent.grant(doctor, ins, "read")
    assert (
        grant["allowed"]
        and grant["rule"] == "R-CONSENT"
        and grant["matrix_version"] == "2023-10-26"
    )


def test_a_patient_cannot_record_a_professional_consent(cluster: Any, people: People) -> None:
    ins, patient = people.patient()
    with pytest.raises(AccessDenied) as error:
        cluster.consent.record_consent(patient, ins)
    assert error.value.details == [{"rule": "R-CONSENT-RECORDER"}]


def test_unknown_action_is_refused_naming_the_field(cluster: Any, people: People) -> None:
    ins, patient = people.patient()
    with pytest.raises(InvalidInput) as error:
        cluster.consent.grant(patient, ins, "delete_everything")
    assert error.value.details[0]["field"] == "action"


def test_suspension_stops_a_professional_whose_token_still_runs(
    cluster: Any, people: People
) -> None:
    ins, patient = people.patient()
    cluster.dossier.open(patient, {"ins": ins})
    rpps, doctor = people.professional()
    cluster.consent.record_consent(doctor, ins)
    assert cluster.dossier.search(doctor, ins)["documents"] == []

    cluster.identity.set_status(f"rpps:{rpps}", "suspended")
    assert eventually(lambda: cluster.consent.grant(doctor, ins, "read")["rule"] == "R-SUSPENDED")
    with pytest.raises(AccessDenied) as error:
        cluster.dossier.search(doctor, ins)
    assert error.value.details == [{"rule": "R-SUSPENDED"}]

    cluster.identity.set_status(f"rpps:{rpps}", "active")
    assert eventually(lambda: cluster.consent.grant(doctor, ins, "read")["allowed"])
