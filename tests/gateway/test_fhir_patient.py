"""The Patient look-up's parameters and resource (services/gateway/fhir_patient.py), with no I/O."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fhir.resources.R4B.patient import Patient

from services.common.codes import INS_SYSTEM
from services.gateway.fhir import capability_statement
from services.gateway.fhir_patient import IDENTIFIER_TYPES, parse, patient
from services.gateway.fhir_search import InvalidSearch
from tests.fhir_profiles import REFERENCE

INS = "180012A00100161"
TRAITS = [("identifier", f"{INS_SYSTEM}|{INS}"), ("family", "Martin"), ("birthdate", "1980-01-15")]
DEFINITIONS = Path(__file__).parents[1] / "data" / "fhir-search-parameters.json"
FR_CORE_TYPES = REFERENCE / "hl7-fr-core" / "ValueSet-fr-core-vs-patient-identifier-type.json"


def test_the_ins_with_the_traits_asks_identity_to_check_them() -> None:
    search = parse(TRAITS)
    assert search.check == {"ins": INS, "family_name": "Martin", "birth_date": "1980-01-15"}
    assert search.applied == TRAITS and search.unsupported == []


@pytest.mark.parametrize("value", [INS, f"|{INS}"])
def test_an_identifier_without_a_system_is_taken_as_an_ins(value: str) -> None:
    assert parse([("identifier", value), *TRAITS[1:]]).check == {
        "ins": INS,
        "family_name": "Martin",
        "birth_date": "1980-01-15",
    }


def test_another_systems_identifier_matches_nothing() -> None:
    search = parse([("identifier", f"urn:oid:1.2.250.1.71.4.2.1|{INS}"), *TRAITS[1:]])
    assert search.check is None and len(search.applied) == 3


@pytest.mark.parametrize("left_out", ["identifier", "family", "birthdate"])
def test_an_ins_alone_or_a_name_alone_discloses_nothing_it_is_refused_naming_what_is_missing(
    left_out: str,
) -> None:
    with pytest.raises(InvalidSearch) as refused:
        parse([pair for pair in TRAITS if pair[0] != left_out])
    assert refused.value.details == [{"field": left_out, "reason": "is required"}]


@pytest.mark.parametrize(
    "pairs",
    [
        [*TRAITS, ("family", "Durand")],  # two family names
        [
            ("identifier", f"{INS_SYSTEM}|{INS},{INS_SYSTEM}|280012A00100159"),
            *TRAITS[1:],
        ],  # an OR of patients
    ],
)
def test_one_patient_is_looked_up_at_a_time(pairs: list[tuple[str, str]]) -> None:
    with pytest.raises(InvalidSearch):
        parse(pairs)


@pytest.mark.parametrize(
    "birthdate", ["1980", "1980-01", "ge1980-01-15", "1980-13-01", "1980-01-15T00:00:00Z"]
)
def test_a_birth_date_is_a_whole_day(birthdate: str) -> None:
    with pytest.raises(InvalidSearch) as refused:
        parse([*TRAITS[:2], ("birthdate", birthdate)])
    assert refused.value.details[0]["field"] == "birthdate"


def test_eq_is_the_only_prefix_and_other_parameters_are_reported_unapplied() -> None:
    search = parse(
        [*TRAITS[:2], ("birthdate", "eq1980-01-15"), ("given", "Camille"), ("_count", "1")]
    )
    assert search.check is not None and search.check["birth_date"] == "1980-01-15"
    assert search.unsupported == ["given", "_count"]
    assert ("given", "Camille") not in search.applied


def test_the_patient_validates_with_the_ins_as_an_fr_core_ins_nir_identifier() -> None:
    resource = patient(
        {
            "patient_id": "pat_0a1b",
            "ins": INS,
            "given_name": "Camille",
            "family_name": "Martin",
            "sex": "F",
            "birth_date": "1980-01-15",
        }
    )
    Patient.model_validate(resource)
    assert (
        resource["id"] == "pat-0a1b"
        and resource["gender"] == "female"
        and resource["birthDate"] == "1980-01-15"
    )
    identifier = resource["identifier"][0]
    assert (identifier["system"], identifier["value"]) == (INS_SYSTEM, INS)
    coding = identifier["type"]["coding"][0]
    if FR_CORE_TYPES.exists():  # the shared reference data, next to the checkout
        allowed = {
            (part["system"], concept["code"])
            for part in json.loads(FR_CORE_TYPES.read_text())["compose"]["include"]
            for concept in part["concept"]
        }
        assert (coding["system"], coding["code"]) in allowed
    assert (coding["system"], coding["code"]) == (IDENTIFIER_TYPES, "INS-NIR")


def test_the_capability_statement_lists_the_patient_search_as_its_definitions_name_it() -> None:
    definitions = {
        entry["resource"]["url"]: entry["resource"]
        for entry in json.loads(DEFINITIONS.read_text())["entry"]
    }
    resource = next(
        r for r in capability_statement()["rest"][0]["resource"] if r["type"] == "Patient"
    )
    assert [i["code"] for i in resource["interaction"]] == ["search-type"]
    for param in resource["searchParam"]:
        definition = definitions[param["definition"]]
        assert (param["name"], param["type"]) == (definition["code"], definition["type"])
        assert "Patient" in definition["base"]
