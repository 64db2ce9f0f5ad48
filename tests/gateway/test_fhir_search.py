"""ITI-67's parameters as the dossier's search (services/gateway/fhir_search.py): pure, table-driven."""

import json
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from services.common.codes import INS_SYSTEM
from services.dossier.schemas import DocumentSearch
from services.gateway.fhir import capability_statement
from services.gateway.fhir_mapping import (
    CLASS_SYSTEM,
    CONFIDENTIALITY,
    DOCUMENT_SYSTEM,
    LOINC,
    TYPE_SYSTEM_NATIONAL,
    VISIBILITY_SYSTEM,
)
from services.gateway.fhir_search import STATUS_SYSTEM, SUPPORTED, InvalidSearch, Search, parse
from tests.fhir_profiles import REFERENCE

INS = "180012A00100161"
DOC = "doc-" + "a" * 32
OTHER = "doc-" + "b" * 32
OID = "urn:oid:1.2.250.1.999.7.42"
UUID = "urn:uuid:0c4d5e6f-0000-4000-8000-00000000002a"


def search(*pairs: tuple[str, str]) -> Search:
    return parse([("patient.identifier", f"{INS_SYSTEM}|{INS}"), *pairs])


def query(*pairs: tuple[str, str]) -> dict[str, Any]:
    return {key: value for key, value in search(*pairs).query.items() if key != "limit"}


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([("category", "10,11")], {"category": ["10", "11"]}),
        ([("category", f"{CLASS_SYSTEM}|10")], {"category": ["10"]}),
        ([("category", "http://example.org|10")], {"category": []}),
        ([("category", "|10")], {"category": []}),
        ([("category", "99")], {"category": []}),
        ([("category", "10,11"), ("category", "11,42")], {"category": ["11"]}),
        (
            [("type", f"{LOINC}|11488-4,{TYPE_SYSTEM_NATIONAL}|SYNTH")],
            {"type_code": ["11488-4", "SYNTH"]},
        ),
        ([("type", f"{LOINC}|SYNTH")], {"type_code": []}),
        ([("type", f"{TYPE_SYSTEM_NATIONAL}|11488-4")], {"type_code": []}),
        ([("status", "current,superseded")], {"status": ["current", "replaced"]}),
        ([("status", f"{STATUS_SYSTEM}|superseded")], {"status": ["replaced"]}),
        ([("status", "entered-in-error")], {"status": []}),
        ([("status", "http://example.org|current")], {"status": []}),
        ([("_id", f"{DOC},{OTHER}")], {"document_id": ["doc_" + "a" * 32, "doc_" + "b" * 32]}),
        ([("_id", "not-an-id")], {"document_id": []}),
        (
            [("identifier", f"{DOCUMENT_SYSTEM}|doc_{'a' * 32}")],
            {"identifier": ["doc_" + "a" * 32]},
        ),
        ([("identifier", f"urn:ietf:rfc:3986|doc_{'a' * 32}")], {"identifier": []}),
        (
            [("identifier", f"urn:ietf:rfc:3986|{OID},{DOCUMENT_SYSTEM}|{OID},{UUID}")],
            {"identifier": sorted([OID, UUID])},
        ),
        ([("identifier", "urn:oid:1.02")], {"identifier": []}),  # not an OID
        # isArchived (PDSm): archived documents are current ones, found only when asked for.
        ([("isArchived", "true")], {"status": ["archived"]}),
        ([("isArchived", "false")], {"status": ["current"]}),
        (
            [("isArchived", "true,false"), ("status", "current,superseded")],
            {"status": ["current", "replaced", "archived"]},
        ),
        (
            [("isArchived", "true"), ("status", "superseded")],
            {"status": []},
        ),  # a replaced document is not archived
        ([("isArchived", "true"), ("isArchived", "false")], {"status": []}),
        # security-label: HL7 confidentiality or TRE_A07 visibility; each occurrence a group (OR), groups AND.
        ([("security-label", "R,V")], {"security_label": ["R,V"]}),
        (
            [("security-label", f"{CONFIDENTIALITY}|R,{VISIBILITY_SYSTEM}|MASQUE_PS")],
            {"security_label": ["MASQUE_PS,R"]},
        ),
        (
            [("security-label", f"{VISIBILITY_SYSTEM}|R")],
            {"security_label": [""]},
        ),  # R is no visibility code
        ([("security-label", f"{CONFIDENTIALITY}|MASQUE_PS")], {"security_label": [""]}),
        ([("security-label", "http://example.org|R")], {"security_label": [""]}),
        ([("security-label", "|R")], {"security_label": [""]}),
        ([("security-label", "restricted")], {"security_label": [""]}),  # no such code: nothing
        (
            [("security-label", "N"), ("security-label", "INVISIBLE_REPRESENTANTS_LEGAUX")],
            {"security_label": ["N", "INVISIBLE_REPRESENTANTS_LEGAUX"]},
        ),
        (
            [("relatesto", f"DocumentReference/{DOC},{OTHER}")],
            {"replaces": ["doc_" + "a" * 32, "doc_" + "b" * 32]},
        ),
        (
            [("relatesto", f"https://dmp.example/fhir/DocumentReference/{DOC}")],
            {"replaces": ["doc_" + "a" * 32]},
        ),
        ([("relatesto", DOC)], {"replaces": ["doc_" + "a" * 32]}),
        ([("relatesto", "DocumentReference/unknown")], {"replaces": []}),
        (
            [("relatesto", DOC), ("relatesto", OTHER)],
            {"replaces": []},
        ),  # a version replaces one document
        (
            [("_id", DOC), ("identifier", f"doc_{'b' * 32}")],
            {"document_id": ["doc_" + "a" * 32], "identifier": ["doc_" + "b" * 32]},
        ),
    ],
)
def test_token_parameters_are_or_lists_and_honour_their_system(
    pairs: list[tuple[str, str]], expected: dict[str, Any]
) -> None:
    assert query(*pairs) == expected


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        # Days of the DMP's calendar (Paris: UTC+1 in winter, UTC+2 in summer).
        (
            [("date", "2026-11-20")],
            {
                "created_from": "2026-11-19T23:00:00+00:00",
                "created_before": "2026-11-20T23:00:00+00:00",
            },
        ),
        ([("date", "ge2026-11-20")], {"created_from": "2026-11-19T23:00:00+00:00"}),
        ([("date", "gt2026-11-20")], {"created_from": "2026-11-20T23:00:00+00:00"}),
        ([("date", "le2026-11")], {"created_before": "2026-11-30T23:00:00+00:00"}),
        ([("date", "lt2026")], {"created_before": "2025-12-31T23:00:00+00:00"}),
        (
            [("date", "ge2026-07-01"), ("date", "lt2026-08-01"), ("date", "ge2026-06-01")],
            {
                "created_from": "2026-06-30T22:00:00+00:00",
                "created_before": "2026-07-31T22:00:00+00:00",
            },
        ),
        ([("date", "gt2026-11-20T10:15:00Z")], {"created_from": "2026-11-20T10:15:01+00:00"}),
        (
            [("date", "eq2026-11-20T10:15+01:00")],
            {
                "created_from": "2026-11-20T09:15:00+00:00",
                "created_before": "2026-11-20T09:16:00+00:00",
            },
        ),
        # period: a range (the date of care to its end), each prefix one bound of it, at the value's precision.
        (
            [("period", "2026-11-20")],
            {"care_starts_from": "2026-11-20", "care_ends_to": "2026-11-20"},
        ),
        ([("period", "ge2026-11")], {"care_ends_from": "2026-11-01"}),
        ([("period", "gt2026-11")], {"care_ends_from": "2026-12-01"}),
        ([("period", "le2026-11")], {"care_starts_to": "2026-11-30"}),
        ([("period", "lt2026-11-20")], {"care_starts_to": "2026-11-19"}),
        ([("period", "sa2026-11-20")], {"care_starts_from": "2026-11-21"}),
        ([("period", "eb2026-11-20")], {"care_ends_to": "2026-11-19"}),
        (
            [("period", "eb2026"), ("period", "sa2024"), ("period", "eb2027")],  # ANDed
            {"care_ends_to": "2025-12-31", "care_starts_from": "2025-01-01"},
        ),
        # creation: attachment.creation, shown as the date of care at 00:00Z.
        ([("creation", "2026-11-20")], {"care_from": "2026-11-20", "care_to": "2026-11-20"}),
        ([("creation", "ge2026-11-20T00:00:00Z")], {"care_from": "2026-11-20"}),
        ([("creation", "gt2026-11-20T00:00:00Z")], {"care_from": "2026-11-21"}),
        ([("creation", "lt2026-11-20T00:00:00Z")], {"care_to": "2026-11-19"}),
        ([("creation", "le2026-11-20T00:00:00Z")], {"care_to": "2026-11-20"}),
        (
            [("creation", "eq2026-11-20T00:00:00Z")],
            {"care_from": "2026-11-20", "care_to": "2026-11-20"},
        ),
        (
            [("creation", "eq2026-11-20T10:00:00Z")],
            {"care_from": "2026-11-21", "care_to": "2026-11-20"},
        ),  # none
        (
            [("creation", "ge2026-11"), ("period", "le2026-11-10")],
            {"care_from": "2026-11-01", "care_starts_to": "2026-11-10"},
        ),
        # _lastUpdated: meta.lastUpdated, an instant like DocumentReference.date.
        (
            [("_lastUpdated", "gt2026-11-20T10:15:00Z")],
            {"updated_from": "2026-11-20T10:15:01+00:00"},
        ),
        (
            [("_lastUpdated", "2026-11-20")],
            {
                "updated_from": "2026-11-19T23:00:00+00:00",
                "updated_before": "2026-11-20T23:00:00+00:00",
            },
        ),
        (
            [("_lastUpdated", "lt2026-07"), ("date", "ge2026-06")],
            {
                "updated_before": "2026-06-30T22:00:00+00:00",
                "created_from": "2026-05-31T22:00:00+00:00",
            },
        ),
    ],
)
def test_dates_follow_the_precision_of_their_value(
    pairs: list[tuple[str, str]], expected: dict[str, Any]
) -> None:
    assert query(*pairs) == expected


@pytest.mark.parametrize(
    ("pairs", "parameter"),
    [
        ([("date", "ne2026-11-20")], "date"),
        ([("date", "2026-13-01")], "date"),
        ([("date", "2026-11-20T10:00")], "date"),
        ([("date", "yesterday")], "date"),
        ([("date", "ge2026,le2027")], "date"),
        ([("period", "2026-11-20T10:00:00Z")], "period"),
        ([("status", "final")], "status"),
        ([("_count", "-1")], "_count"),
        ([("_count", "ten")], "_count"),
        ([("_count", "5"), ("_count", "6")], "_count"),
        ([("identifier", OID), ("identifier", UUID)], "identifier"),
        ([("patient.identifier", INS)], "patient.identifier"),
        ([("_lastUpdated", "2026-11-20T10:00")], "_lastUpdated"),
        ([("isArchived", "yes")], "isArchived"),
        ([("_lastUpdated", "ap2026")], "_lastUpdated"),
        ([("relatesto", f"Patient/{DOC}")], "relatesto"),
        ([("security-label", "R")] * 11, "security-label"),
    ],
)
def test_a_bad_value_is_refused_naming_its_parameter(
    pairs: list[tuple[str, str]], parameter: str
) -> None:
    with pytest.raises(InvalidSearch) as refused:
        search(*pairs)
    assert refused.value.status == 400 and refused.value.details[0]["field"] == parameter


def test_count_zero_is_served_and_a_larger_count_is_clamped() -> None:
    assert search(("_count", "0")).query["limit"] == 0
    assert search(("_count", "1000")).query["limit"] == 100
    assert search(("_count", "1000")).applied[-1] == (
        "_count",
        "100",
    )  # the self link: what is served
    assert search().query["limit"] == 50


def test_the_patient_by_reference_absolute_relative_or_bare() -> None:
    hexa = "c" * 32
    for value in (
        f"Patient/pat-{hexa}",
        f"https://dmp.example/fhir/Patient/pat-{hexa}",
        f"pat-{hexa}",
    ):
        found = parse([("patient", value)])
        assert found.ins is None and found.query["patient_id"] == f"pat_{hexa}"
    with pytest.raises(InvalidSearch):
        parse([("patient", f"Practitioner/pat-{hexa}")])
    with pytest.raises(InvalidSearch):
        parse([("patient", f"Patient/pat-{hexa},Patient/pat-{'d' * 32}")])


def test_a_patient_is_required_and_another_identifier_system_matches_nothing() -> None:
    with pytest.raises(InvalidSearch) as refused:
        parse([("category", "10")])
    assert refused.value.details[0]["field"] == "patient"
    assert parse([("patient.identifier", f"urn:oid:1.2.3|{INS}")]).matches_nothing


def test_only_applied_parameters_are_kept_for_the_self_link() -> None:
    found = search(
        ("category", "10"),
        ("setting:text", "x"),
        ("category:not", "11"),
        ("type", ""),
        ("_sort", "-date"),
        ("_count", "5"),
        ("_lastupdated", "2026"),
        ("author.family:contains", "Mar"),
    )
    assert found.applied == [
        ("patient.identifier", f"{INS_SYSTEM}|{INS}"),
        ("category", "10"),
        ("_count", "5"),
    ]
    assert found.unsupported == [
        "setting:text",
        "category:not",
        "_sort",
        "_lastupdated",
        "author.family:contains",
    ]


SEARCH_PARAMETER_DEFINITIONS = Path(__file__).parents[1] / "data" / "fhir-search-parameters.json"
SHARED_MHD_RESPONDER = REFERENCE / "ihe-mhd" / "CapabilityStatement-IHE.MHD.DocumentResponder.json"
MHD_RESPONDER = {
    "_id",
    "_lastupdated",
    "author.given",
    "author.family",
    "category",
    "creation",
    "date",
    "event",
    "facility",
    "format",
    "identifier",
    "patient",
    "patient.identifier",
    "period",
    "related",
    "security-label",
    "setting",
    "status",
    "type",
}  # MHD 4.2 DocumentResponder, DocumentReference
MHD_NOT_SERVED: set[str] = (
    set()
)  # IHE MHD 4.2 DocumentResponder's parameters this facade does not list


def test_every_listed_parameter_is_applied_and_has_its_definitions_name_and_type() -> None:
    """The CapabilityStatement lists exactly what the search applies, each as the SearchParameter it cites
    defines it (code, type, on DocumentReference): the published definitions are in tests/data."""
    CapabilityStatement.model_validate(capability_statement())
    definitions = {
        entry["resource"]["url"]: entry["resource"]
        for entry in json.loads(SEARCH_PARAMETER_DEFINITIONS.read_text())["entry"]
    }
    listed = capability_statement()["rest"][0]["resource"][0]["searchParam"]
    assert {param["name"] for param in listed} == set(SUPPORTED) - {"_count", "_cursor"}
    for param in listed:
        if (
            "." in param["name"]
        ):  # a chain (patient.identifier, author.given): no definition of its own
            assert "definition" not in param
            continue
        definition = definitions[param["definition"]]
        assert (param["name"], param["type"]) == (definition["code"], definition["type"]), param[
            "name"
        ]
        assert {"DocumentReference", "Resource"} & set(definition["base"]), param["name"]


def test_what_mhd_asks_of_a_document_responder_is_listed_or_knowingly_not_served() -> None:
    listed = {
        param["name"].lower()
        for param in capability_statement()["rest"][0]["resource"][0]["searchParam"]
    }
    if (
        SHARED_MHD_RESPONDER.exists()
    ):  # the shared reference data, next to the checkout (SOURCES.md)
        responder = json.loads(SHARED_MHD_RESPONDER.read_text())
        document_reference = next(
            r for r in responder["rest"][0]["resource"] if r["type"] == "DocumentReference"
        )
        assert {param["name"] for param in document_reference["searchParam"]} == MHD_RESPONDER
    assert MHD_RESPONDER - listed == MHD_NOT_SERVED  # MHD's `_lastupdated` is FHIR's `_lastUpdated`
    assert not listed & MHD_NOT_SERVED


SNOMED = "http://snomed.info/sct"
FORMAT_SYSTEM = "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode"


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        # A comma is an OR (one group), a repeat an AND (one group more); the tokens go as sent.
        ([("setting", f"{SNOMED}|394802001")], {"practice_setting": [f"{SNOMED}|394802001"]}),
        (
            [("facility", f"{SNOMED}|22232009,{SNOMED}|394747008")],
            {"facility_type": [f"{SNOMED}|22232009,{SNOMED}|394747008"]},
        ),
        (
            [("event", "38341003"), ("event", f"{SNOMED}|")],
            {"event": ["38341003", f"{SNOMED}|"]},
        ),
        (
            [("format", f"{FORMAT_SYSTEM}|urn:ihe:iti:xds:2017:mimeTypeSufficient")],
            {"format_code": [f"{FORMAT_SYSTEM}|urn:ihe:iti:xds:2017:mimeTypeSufficient"]},
        ),
        (
            [("related:identifier", "urn:oid:1.2.250.1.999.3|ACC-42")],
            {"related": ["urn:oid:1.2.250.1.999.3|ACC-42"]},
        ),
        # context.related holds identifiers only: a literal reference is one no document carries.
        ([("related", "Encounter/123")], {"related": [""]}),
    ],
)
def test_coded_parameters_become_groups_of_tokens(
    pairs: list[tuple[str, str]], expected: dict[str, Any]
) -> None:
    found = search(*pairs)
    assert query(*pairs) == expected
    assert found.applied[1:] == pairs and not found.unsupported


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([("author.given", "Jea")], {"author_given": ["Jea"]}),
        ([("author.family", "Du,Ma")], {"author_family": ["Du,Ma"]}),  # a comma: an OR
        (
            [("author.family", "Du"), ("author.family", "Dur")],  # a repeat: an AND
            {"author_family": ["Du", "Dur"]},
        ),
        ([("author.given:exact", "Élodie")], {"author_given_exact": ["Élodie"]}),
    ],
)
def test_author_names_become_string_searches_of_the_dossier(
    pairs: list[tuple[str, str]], expected: dict[str, Any]
) -> None:
    found = search(*pairs)
    assert {k: v for k, v in found.query.items() if k != "limit"} == expected
    assert found.applied[1:] == pairs and found.unsupported == []
    DocumentSearch.model_validate(found.query)  # what the dossier takes


@pytest.mark.parametrize("value", ["Du,", ",", "x" * 101, r"Le\,Gall", ",".join("x" * 11)])
def test_a_bad_author_name_is_refused_naming_its_parameter(value: str) -> None:
    with pytest.raises(InvalidSearch) as refused:
        search(("author.family", value))
    assert refused.value.details[0]["field"] == "author.family"


@pytest.mark.parametrize(
    ("pairs", "parameter"),
    [
        ([("setting", "a,,b")], "setting"),
        ([("event", ",")], "event"),
        ([("format", "x" * 2001)], "format"),
        ([("facility", "x")] * 11, "facility"),
    ],
)
def test_a_bad_coded_value_is_refused_naming_its_parameter(
    pairs: list[tuple[str, str]], parameter: str
) -> None:
    with pytest.raises(InvalidSearch) as refused:
        search(*pairs)
    assert refused.value.status == 400 and refused.value.details[0]["field"] == parameter
