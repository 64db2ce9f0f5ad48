"""The personal space: validated, edited by the patient's side, versioned, sealed, read under the matrix."""

from typing import Any

import pytest

from services.common.errors import AccessDenied, Conflict, InvalidInput
from tests.conftest import People, service_database
from tests.journeys import Deposit

SPACE = {
    "blood_group": "O-",
    "allergies": [{"substance": "pénicilline", "reaction": "urticaire", "severity": "severe"}],
    "pathologies": ["asthme"],
    "treatments": [{"name": "salbutamol", "dosage": "2 bouffées si besoin"}],
    "emergency_contacts": [{"name": "Paul Martin", "relation": "frère", "phone": "+33612345678"}],
    "trusted_person": {"name": "Anne Morel", "phone": "+33698765432"},
    "advance_directives": {"written": True, "kept_by": "Dr Durand"},
    "organ_donation": "consents",
}


def test_patient_edits_and_a_doctor_reads_it(cluster: Any, deposit: Deposit) -> None:
    empty = cluster.dossier.personal_space(deposit.patient, deposit.ins)
    assert empty["version"] == 0 and empty["content"]["allergies"] == []
    saved = cluster.dossier.update_personal_space(
        deposit.patient, deposit.ins, {"content": SPACE, "version": 0}
    )
    assert saved["version"] == 1
    read = cluster.dossier.personal_space(deposit.doctor, deposit.ins)
    assert (
        read["content"]["allergies"][0]["substance"] == "pénicilline"
        and read["content"]["blood_group"] == "O-"
    )


def test_every_version_is_kept_and_a_stale_edit_is_refused(cluster: Any, deposit: Deposit) -> None:
    cluster.dossier.update_personal_space(
        deposit.patient, deposit.ins, {"content": SPACE, "version": 0}
    )
    cluster.dossier.update_personal_space(
        deposit.patient, deposit.ins, {"content": {**SPACE, "blood_group": "A+"}, "version": 1}
    )
    with pytest.raises(Conflict) as error:
        cluster.dossier.update_personal_space(
            deposit.patient, deposit.ins, {"content": SPACE, "version": 1}
        )
    assert error.value.details[0]["current"] == "2"
    history = cluster.dossier.personal_space_history(deposit.patient, deposit.ins)
    assert [(v["version"], v["content"]["blood_group"]) for v in history] == [(2, "A+"), (1, "O-")]


def test_professionals_do_not_edit_it(cluster: Any, deposit: Deposit) -> None:
    with pytest.raises(AccessDenied) as error:
        cluster.dossier.update_personal_space(
            deposit.doctor, deposit.ins, {"content": SPACE, "version": 0}
        )
    assert error.value.details == [{"rule": "R-HOLDER-MANAGES"}]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"blood_group": "Z+"}, "content.blood_group"),
        (
            {"emergency_contacts": [{"name": "P", "phone": "0612"}]},
            "content.emergency_contacts.0.phone",
        ),
        ({"favourite_colour": "blue"}, "content.favourite_colour"),
    ],
)
def test_bad_content_names_the_field(
    cluster: Any, deposit: Deposit, change: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as error:
        cluster.dossier.update_personal_space(
            deposit.patient, deposit.ins, {"content": {**SPACE, **change}, "version": 0}
        )
    assert field in [d["field"] for d in error.value.details]


def test_it_is_sealed_at_rest(cluster: Any, deposit: Deposit, environment: dict[str, str]) -> None:
    cluster.dossier.update_personal_space(
        deposit.patient, deposit.ins, {"content": SPACE, "version": 0}
    )
    stored = service_database(environment, "dossier").personal_spaces.find_one({})
    assert (
        stored is not None
        and b"penicill" not in bytes(stored["sealed"])
        and "pénicilline" not in str(stored)
    )


def test_professionals_need_the_patients_consent_to_read_it(
    cluster: Any, deposit: Deposit, people: People
) -> None:
    # Every profession's matrix row reads class 90 (the patient's own words), so consent is what decides.
    _, stranger = people.professional("40")
    with pytest.raises(AccessDenied) as error:
        cluster.dossier.personal_space(stranger, deposit.ins)
    assert error.value.details == [{"rule": "R-NO-CONSENT"}]
    cluster.consent.record_consent(stranger, deposit.ins)
    assert cluster.dossier.personal_space(stranger, deposit.ins)["version"] == 0
