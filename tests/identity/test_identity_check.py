"""A professional checks the patient's identity traits (INS, family name, birth date) before anything of
the dossier is shown: identity answers a mismatch exactly like an unknown INS."""

from datetime import UTC, date, datetime
from typing import Any

import pytest

from services.common.errors import AccessDenied, InvalidInput, NotFound
from services.identity.records import Patient
from services.identity.traits import comparable_name, traits_match
from tests.conftest import People
from tests.identities import make_ins, registration


@pytest.mark.parametrize(
    "written, registered",
    [
        ("MARTIN", "Martin"),
        ("martin-dupont", "Martin Dupont"),
        ("D'Arc", "d arc"),
        ("Martín", "MARTIN"),
        ("  Le   Gall ", "LE-GALL"),
        ("Lefèvre", "LEFEVRE"),
    ],
)
def test_family_names_compare_without_case_accents_or_separators(
    written: str, registered: str
) -> None:
    assert comparable_name(written) == comparable_name(registered)


@pytest.mark.parametrize(
    "family_name, born",
    [("Martine", date(1980, 1, 15)), ("Martin", date(1980, 1, 16)), ("Marti", date(1980, 1, 15))],
)
def test_another_name_or_another_birth_date_does_not_match(family_name: str, born: date) -> None:
    registered = Patient(
        id="pat_1",
        ins="280017512345678",
        given_name="Camille",
        family_name="Martin",
        sex="F",
        birth_date=date(1980, 1, 15),
        email="camille@patients.dmp-test.fr",
        registered_at=datetime(2026, 12, 1, tzinfo=UTC),
    )
    assert not traits_match(registered, family_name, born)


@pytest.fixture
def patient(cluster: Any) -> dict[str, str]:
    details = registration(family_name="Lefèvre-Martin")
    cluster.identity.register_patient(details)
    return details


def test_matching_traits_give_the_patients_identity(
    cluster: Any, people: People, patient: dict[str, str]
) -> None:
    _, doctor = people.professional("10")
    checked = cluster.identity.check_patient_identity(
        doctor, {"ins": patient["ins"], "family_name": "LEFEVRE MARTIN", "birth_date": "1980-01-15"}
    )
    assert checked == {
        "patient_id": cluster.identity.patient_id_for(patient["ins"]),
        "ins": patient["ins"],
        "given_name": "Camille",
        "family_name": "Lefèvre-Martin",
        "sex": "F",
        "birth_date": "1980-01-15",
    }


def test_a_mismatch_is_refused_exactly_like_an_unknown_ins(
    cluster: Any,
    people: People,
    patient: dict[str, str],
) -> None:
    _, doctor = people.professional("10")
    refusals = []
    for check in (
        {"ins": patient["ins"], "family_name": "Durand", "birth_date": "1980-01-15"},
        {"ins": patient["ins"], "family_name": "Lefèvre-Martin", "birth_date": "1980-01-16"},
        {"ins": make_ins(), "family_name": "Lefèvre-Martin", "birth_date": "1980-01-15"},
    ):
        with pytest.raises(NotFound) as refused:
            cluster.identity.check_patient_identity(doctor, check)
        refusals.append((refused.value.message, refused.value.details))
    assert refusals[0] == refusals[1] == refusals[2]
    assert "no patient matches" in refusals[0][0]


def test_a_malformed_ins_names_the_field(cluster: Any, people: People) -> None:
    _, doctor = people.professional("10")
    with pytest.raises(InvalidInput) as refused:
        cluster.identity.check_patient_identity(
            doctor, {"ins": "1234", "family_name": "X", "birth_date": "1980-01-15"}
        )
    assert [d["field"] for d in refused.value.details] == ["ins"]


def test_a_patient_does_not_check_identities(
    cluster: Any, people: People, patient: dict[str, str]
) -> None:
    _, own = people.patient()
    with pytest.raises(AccessDenied):
        cluster.identity.check_patient_identity(
            own,
            {"ins": patient["ins"], "family_name": "Lefèvre-Martin", "birth_date": "1980-01-15"},
        )
