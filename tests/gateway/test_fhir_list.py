"""ITI-66's List (services/gateway/fhir_list.py): its search parameters as the dossier's SubmissionSetSearch, the
submission set an ITI-65 List gives, and the List the facade emits, checked against the shared profiles."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from services.common.codes import INS_SYSTEM
from services.common.errors import Conflict, InvalidInput
from services.dossier.schemas import SubmissionSetSearch, SubmissionSetSubmission
from services.gateway.fhir import capability_statement
from services.gateway.fhir_list import (
    LIST_PARAMETERS,
    ListSearch,
    at_set_entry,
    list_resource,
    parse,
    provided_set,
    submission_set,
)
from services.gateway.fhir_mapping import LIST_TYPES, provided_documents
from services.gateway.fhir_search import InvalidSearch
from tests.fhir_profiles import REFERENCE, problems

INS = "180012A00100161"
SET = "sub_" + "c" * 32
OID = "urn:oid:1.2.250.1.999.66.1"
MHD_RESPONDER = REFERENCE / "ihe-mhd/CapabilityStatement-IHE.MHD.DocumentResponder.json"
PDSM4DMP_EXAMPLE = REFERENCE / "ans-pdsm4dmp/example/Bundle-example-td2-iti65-lot-soumission.json"
MHD_NOT_SERVED: set[str] = set()  # MHD 4.2's List parameters this facade does not list


def search(*pairs: tuple[str, str]) -> ListSearch:
    return parse([("patient.identifier", f"{INS_SYSTEM}|{INS}"), *pairs])


def query(*pairs: tuple[str, str]) -> dict[str, Any]:
    return {key: value for key, value in search(*pairs).query.items() if key != "limit"}


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        (
            [("_id", f"sub-{'c' * 32},sub-{'d' * 32}")],
            {"submission_set_id": [SET, "sub_" + "d" * 32]},
        ),
        ([("_id", "doc-" + "c" * 32)], {"submission_set_id": []}),
        ([("identifier", f"urn:ietf:rfc:3986|{OID}")], {"identifier": [OID]}),
        ([("identifier", f"http://example.org|{OID}")], {"identifier": []}),
        ([("identifier", "not-a-urn")], {"identifier": []}),
        ([("sourceId", f"{OID},urn:oid:1.2.3")], {"source_id": [OID, "urn:oid:1.2.3"]}),
        ([("sourceId", OID), ("sourceId", "urn:oid:1.2.3")], {"source_id": []}),  # a repeat ANDs
        (
            [("designationType", "http://x.org|11,12")],
            {"designation_type": ["12", "http://x.org|11"]},
        ),
        ([("code", "submissionset")], {}),
        ([("code", f"{LIST_TYPES}|submissionset")], {}),
        ([("status", "current,retired")], {}),
        (
            [("date", "ge2026-11-01"), ("date", "lt2026-12")],
            {
                "submitted_from": "2026-10-31T23:00:00+00:00",
                "submitted_before": "2026-11-30T23:00:00+00:00",
            },
        ),
        (
            [("_lastUpdated", "gt2026-11-20T08:00:00Z")],
            {"submitted_from": "2026-11-20T08:00:01+00:00"},
        ),
        # The submitter's name: a comma an OR, a repeat an AND, :exact the part as registered.
        ([("source.given", "Jea,Ma")], {"source_given": ["Jea,Ma"]}),
        (
            [("source.family", "Du"), ("source.family:exact", "Durand")],
            {"source_family": ["Du"], "source_family_exact": ["Durand"]},
        ),
    ],
)
def test_parameters_become_the_dossiers_search(
    pairs: list[tuple[str, str]], expected: dict[str, Any]
) -> None:
    assert query(*pairs) == expected
    SubmissionSetSearch.model_validate(search(*pairs).query)  # what the dossier takes


@pytest.mark.parametrize(
    "pairs",
    [
        [("code", "folder")],
        [("code", "http://example.org|submissionset")],
        [("status", "retired")],
        [("status", "entered-in-error,retired")],
    ],
)
def test_what_no_kept_set_can_be_matches_nothing(pairs: list[tuple[str, str]]) -> None:
    assert search(*pairs).matches_nothing


@pytest.mark.parametrize(
    ("pairs", "parameter"),
    [
        ([("status", "active")], "status"),
        ([("date", "2026-13-01")], "date"),
        ([("date", "2026-11-20T10:00")], "date"),  # a time needs its zone
        ([("_count", "many")], "_count"),
        ([("patient.identifier", "x")], "patient.identifier"),  # twice
    ],
)
def test_a_bad_value_is_refused_naming_its_parameter(
    pairs: list[tuple[str, str]], parameter: str
) -> None:
    with pytest.raises(InvalidSearch) as refused:
        search(*pairs)
    assert refused.value.details[0]["field"] == parameter


def test_a_patient_is_required_unknown_parameters_are_left_out_and_count_is_clamped() -> None:
    with pytest.raises(InvalidSearch) as refused:
        parse([("code", "submissionset")])
    assert refused.value.details[0]["field"] == "patient"
    parsed = search(("source.given:contains", "Alex"), ("_sort", "-date"), ("_count", "500"))
    assert parsed.unsupported == ["source.given:contains", "_sort"]
    assert parsed.applied == [("patient.identifier", f"{INS_SYSTEM}|{INS}"), ("_count", "100")]
    assert parse([("patient", f"Patient/pat-{'e' * 32}")]).query["patient_id"] == "pat_" + "e" * 32


def test_the_capability_statement_lists_what_the_search_applies_as_their_definitions_say() -> None:
    resource = next(r for r in capability_statement()["rest"][0]["resource"] if r["type"] == "List")
    listed = {param["name"]: param for param in resource["searchParam"]}
    assert set(listed) == {name for name, _, _, _ in LIST_PARAMETERS}
    definitions = {
        entry["resource"]["url"]: entry["resource"]
        for entry in json.loads((REFERENCE / "hl7-fhir-r4/search-parameters.json").read_text())[
            "entry"
        ]
    }
    for name in ("SearchParameter-List-DesignationType.json", "SearchParameter-List-SourceId.json"):
        published = json.loads((REFERENCE / "ihe-publications-mhd" / name).read_text())
        definitions[published["url"]] = published
    for name, param in listed.items():
        if "." in name:
            continue  # a chain (patient.identifier, source.given): no definition of its own
        definition = definitions[param["definition"]]
        assert (name, param["type"]) == (definition["code"], definition["type"]), name
        assert {"List", "Resource"} & set(definition["base"]), name
    responder = json.loads(MHD_RESPONDER.read_text())
    wanted = next(r for r in responder["rest"][0]["resource"] if r["type"] == "List")
    asked = {param["name"].lower() for param in wanted["searchParam"]}
    assert asked - {name.lower() for name in listed} == MHD_NOT_SERVED


def shown(**extra: Any) -> dict[str, Any]:
    """A submission set as the dossier answers it."""
    return {
        "submission_set_id": SET,
        "dossier_id": f"dos_{INS}",
        "patient_id": "pat_" + "e" * 32,
        "author": {"id": "rpps:10000000009", "kind": "professional"},
        "submitted_at": "2026-11-23T08:00:00.123000+00:00",
        "unique_id": OID,
        "source_id": "urn:oid:1.2.250.1.999.1",
        "title": "Sortie d'hospitalisation",
        "designation_type": {
            "system": "https://example.org/J03",
            "code": "04",
            "display": "Sortie",
        },
        "intended_recipients": ["PractitionerRole/pr-1"],
        "documents": [{"document_id": "doc_" + "a" * 32}, {"document_id": "doc_" + "b" * 32}],
        **extra,
    }


def test_the_list_emitted_conforms_to_the_submission_set_profile_and_says_what_was_kept() -> None:
    resource = list_resource(shown(), INS, "https://dmp.example")
    assert problems(resource) == []
    assert resource["id"] == "sub-" + "c" * 32
    assert [e["item"]["reference"] for e in resource["entry"]] == [
        "DocumentReference/doc-" + "a" * 32,
        "DocumentReference/doc-" + "b" * 32,
    ]  # in the order submitted
    assert resource["identifier"][0] == {
        "use": "usual",
        "system": "urn:ietf:rfc:3986",
        "value": OID,
    }
    assert resource["subject"]["identifier"] == {"system": INS_SYSTEM, "value": INS}
    # The submitter as DocumentReference.author names them: a contained Practitioner by IdNat_PS (8 + RPPS).
    assert resource["source"] == {"reference": "#author"}
    (submitter,) = resource["contained"]
    assert submitter["resourceType"] == "Practitioner" and submitter["id"] == "author"
    assert [(i["system"], i["value"]) for i in submitter["identifier"]] == [
        ("urn:oid:1.2.250.1.71.4.2.1", "810000000009")
    ]
    assert resource["date"] == "2026-11-23T08:00:00.123Z"


def test_the_submitter_is_named_as_registered_when_the_dossier_kept_their_name() -> None:
    """source.given / source.family search the contained Practitioner's name; a set kept before names were has
    none (and still conforms)."""
    named = list_resource(
        shown(author_name={"given": "Élodie", "family": "Durand"}), INS, "https://dmp.example"
    )
    assert problems(named) == []
    assert named["contained"][0]["name"] == [{"family": "Durand", "given": ["Élodie"]}]
    assert "name" not in list_resource(shown(), INS, "https://dmp.example")["contained"][0]


def test_the_profile_check_refuses_what_the_profile_refuses() -> None:
    """The checker is no formality: each of these breaks a rule of the shared profile."""
    good = list_resource(shown(), INS, "https://dmp.example")
    changes: list[Callable[[dict[str, Any]], object]] = [
        lambda r: r.pop("source"),
        lambda r: r.update(code={"coding": [{"system": LIST_TYPES, "code": "folder"}]}),
        lambda r: r.update(mode="snapshot"),
        lambda r: r["extension"].pop(0),  # no sourceId
        lambda r: r["extension"].append(copy.deepcopy(r["extension"][0])),  # two sourceIds
    ]
    broken = []
    for change in changes:
        changed = copy.deepcopy(good)
        change(changed)
        broken.append(problems(changed))
    assert all(broken), broken


def test_without_its_sources_unique_id_a_set_shows_its_entry_uuid() -> None:
    resource = list_resource(shown(unique_id=None), INS, "https://dmp.example")
    uuid = "urn:uuid:cccccccc-cccc-cccc-cccc-cccccccccccc"
    assert [i["value"] for i in resource["identifier"]] == [uuid, uuid]


def the_list(**changes: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "List",
        "status": "current",
        "mode": "working",
        "code": {"coding": [{"system": LIST_TYPES, "code": "submissionset"}]},
        "identifier": [
            {"use": "usual", "system": "urn:ietf:rfc:3986", "value": OID},
            {
                "use": "official",
                "system": "urn:ietf:rfc:3986",
                "value": "urn:uuid:" + "1" * 8 + "-1111-4111-8111-" + "1" * 12,
            },
        ],
        "extension": [
            {
                "url": "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-sourceId",
                "valueIdentifier": {"system": "urn:ietf:rfc:3986", "value": "urn:oid:1.2.3.4"},
            },
        ],
    }
    resource.update(changes)
    return resource


def test_an_iti65_list_gives_the_set_the_dossier_keeps() -> None:
    kept = submission_set(the_list(title=" Bilan "), 0)
    assert kept == {"unique_id": OID, "source_id": "urn:oid:1.2.3.4", "title": "Bilan"}
    SubmissionSetSubmission.model_validate(kept)
    bundle = json.loads(PDSM4DMP_EXAMPLE.read_text())
    provided_documents(bundle)
    index, example = provided_set(bundle)
    assert bundle["entry"][index]["resource"]["resourceType"] == "List"
    assert example["source_id"] == "urn:oid:1.2.3.4.5.6.7.8"
    assert example["designation_type"]["code"] == "11"
    SubmissionSetSubmission.model_validate(example)


@pytest.mark.parametrize(
    ("changes", "element"),
    [
        (
            {"identifier": [{"use": "usual", "system": "urn:ietf:rfc:3986", "value": "42"}]},
            "identifier[0]",
        ),
        ({"identifier": {"value": OID}}, "identifier"),
        ({"title": 42}, "title"),
        (
            {
                "extension": [
                    {
                        "url": "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-sourceId",
                        "valueIdentifier": {"value": "SRC-01"},
                    }
                ]
            },
            "extension[0].valueIdentifier",
        ),
        (
            {
                "extension": [
                    {
                        "url": "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-intendedRecipient",
                        "valueReference": {"reference": "#contained"},
                    }
                ]
            },
            "extension[0].valueReference",
        ),
        (
            {
                "extension": [
                    {
                        "url": "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-designationType",
                        "valueCodeableConcept": {"coding": [{"code": "11"}]},
                    }
                ]
            },
            "extension[0].valueCodeableConcept.coding[0]",
        ),
    ],
)
def test_what_would_not_be_kept_whole_is_refused_naming_the_element(
    changes: dict[str, Any], element: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        submission_set(the_list(**changes), 3)
    assert refused.value.details[0]["field"] == f"Bundle.entry[3].resource.{element}"


def test_the_dossiers_refusal_of_the_set_names_the_lists_entry() -> None:
    error = Conflict("already used", [{"field": "submission_set.unique_id"}, {"entry": "1"}])
    named = at_set_entry(error, 2)
    assert named.details == [
        {"field": "Bundle.entry[2].resource.identifier"},
        {"entry": "1"},
    ] and isinstance(named, Conflict)
    boundary = InvalidInput(
        "invalid input",
        [
            {"field": "designation_type.system", "reason": "bad"},
            {"field": "title", "reason": "bad", "entry": "0"},  # a document's: left to its entry
        ],
    )
    assert at_set_entry(boundary, 0).details == [
        {"field": "Bundle.entry[0].resource.extension", "reason": "bad"},
        {"field": "title", "reason": "bad", "entry": "0"},
    ]
