"""What the facade accepts (services/gateway/fhir_mapping.py): any shape of DocumentReference or Bundle is
either understood or refused with InvalidInput naming what is wrong; nothing else escapes (a 500)."""

import base64
import copy
from typing import Any

import pytest
from fhir.resources.R4B.documentreference import DocumentReference
from hypothesis import given, settings
from hypothesis import strategies as st

from services.common.codes import INS_SYSTEM
from services.common.errors import InvalidInput
from services.gateway.fhir_mapping import (
    CONFIDENTIALITY,
    IS_ARCHIVED,
    LIST_TYPES,
    document_reference,
    provided_documents,
    replaced_document,
    submission,
)

INS = "180012A00100161"
PDF = base64.b64encode(b"%PDF-1.4 test").decode()


def reference(**extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "DocumentReference", "status": "current",
        "type": {"coding": [{"system": "http://loinc.org", "code": "11488-4"}]},
        "category": [{"coding": [{"system": "urn:oid:1.2.250.1.213.1.1.4.1", "code": "10"}]}],
        "subject": {"identifier": {"system": INS_SYSTEM, "value": INS}},
        "context": {"period": {"start": "2026-11-20"}},
        "content": [{"attachment": {"contentType": "application/pdf", "data": PDF, "title": "CR"}}], **extra,
    }


def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    submission_set = {"resourceType": "List", "code": {"coding": [{"system": LIST_TYPES, "code": "submissionset"}]}}
    return {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": f"urn:uuid:{n}", "resource": resource, "request": {"method": "POST"}}
        for n, resource in enumerate([submission_set, *resources])]}


def test_confidentiality_travels_from_the_security_label() -> None:
    labels = [{"coding": [{"system": CONFIDENTIALITY, "code": "R"}]}]
    assert submission(reference(securityLabel=labels))[1]["confidentiality"] == "R"
    assert "confidentiality" not in submission(reference())[1]  # the dossier's default (N)
    with pytest.raises(InvalidInput):
        submission(reference(securityLabel=[*labels, {"coding": [{"system": CONFIDENTIALITY, "code": "N"}]}]))


@pytest.mark.parametrize("broken", [
    {"securityLabel": "R"}, {"securityLabel": [{"coding": "R"}]}, {"securityLabel": [{"coding": ["R"]}]},
    {"content": "x"}, {"content": [{"attachment": "x"}]},
    {"content": [{"attachment": {"contentType": "application/pdf", "data": ["x"]}}]},
    {"category": [{"coding": "10"}]}, {"category": "10"}, {"type": ["x"]}, {"subject": {"identifier": "x"}},
    {"subject": {"identifier": {"system": "urn:oid:1.2.3", "value": INS}}}, {"subject": None},
])
def test_a_malformed_document_reference_is_refused_naming_the_element(broken: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput) as refused:
        submission(reference(**broken))
    assert refused.value.details[0]["field"]


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                         max_size=3), max_leaves=8)
paths = st.lists(st.sampled_from(["entry", 0, 1, 2, "resource", "request", "method", "fullUrl", "content",
                                  "attachment", "url", "subject", "identifier", "value", "code", "coding",
                                  "securityLabel", "category", "type", "resourceType", "relatesTo", "target"]),
                 min_size=1, max_size=6)


def replaced(value: Any, path: list[Any], new: Any) -> Any:
    """value with what is at path (as far as it exists) replaced by new."""
    if not path:
        return new
    step, rest = path[0], path[1:]
    if isinstance(value, dict) and isinstance(step, str) and step in value:
        return {**value, step: replaced(value[step], rest, new)}
    if isinstance(value, list) and isinstance(step, int) and step < len(value):
        return [*value[:step], replaced(value[step], rest, new), *value[step + 1:]]
    return new if not rest else value


@settings(max_examples=400, deadline=None)
@given(paths, json_values)
def test_any_shape_of_bundle_is_understood_or_refused(path: list[Any], value: Any) -> None:
    replacing = [{"code": "replaces", "target": {"reference": f"DocumentReference/doc-{'d' * 32}"}}]
    original = bundle(reference(content=[{"attachment": {"contentType": "application/pdf", "url": "urn:uuid:2"}}],
                                relatesTo=replacing),
                      {"resourceType": "Binary", "contentType": "application/pdf", "data": PDF})
    changed = replaced(copy.deepcopy(original), path, value)
    if not isinstance(changed, dict):
        return
    try:
        provided_documents(changed)
    except InvalidInput as refused:
        assert refused.details and refused.details[0]["field"].startswith("Bundle")


def test_the_source_unique_id_is_kept_as_the_master_identifier() -> None:
    master = {"system": "urn:ietf:rfc:3986", "value": "urn:oid:1.2.250.1.999.7.42"}
    assert submission(reference(masterIdentifier=master))[1]["unique_id"] == master["value"]
    for wrong in ({"system": "urn:dmp:document", "value": master["value"]}, {**master, "value": "42"},
                  {**master, "value": ["urn:oid:1.2"]}, "urn:oid:1.2"):
        with pytest.raises(InvalidInput) as refused:
            submission(reference(masterIdentifier=wrong))
        assert refused.value.details[0]["field"] == "masterIdentifier"


def test_relates_to_replaces_names_the_old_version_and_other_relations_are_refused() -> None:
    old = "doc-" + "c" * 32
    for target in (f"DocumentReference/{old}", f"https://dmp.example/fhir/DocumentReference/{old}"):
        assert replaced_document(reference(relatesTo=[{"code": "replaces", "target": {"reference": target}}])) == (
            "doc_" + "c" * 32)
    assert replaced_document(reference()) is None
    for relations in ([{"code": "appends", "target": {"reference": f"DocumentReference/{old}"}}],
                      [{"code": "replaces", "target": {"reference": f"Binary/{old}"}}],
                      [{"code": "replaces", "target": {"identifier": {"value": old}}}],
                      [{"code": "replaces", "target": {"reference": f"DocumentReference/{old}"}}] * 2, "x", ["x"]):
        with pytest.raises(InvalidInput) as refused:
            replaced_document(reference(relatesTo=relations))
        assert refused.value.details[0]["field"] == "relatesTo"


def test_an_archived_document_is_current_and_says_it_is_archived() -> None:
    stored = {"document_id": "doc_" + "a" * 32, "type_code": "11488-4", "category": "10", "author": {"id": "rpps:1"},
              "created_at": "2026-11-20T10:00:00Z", "title": "CR", "format": "application/pdf", "size": 3,
              "care_date": "2026-11-20", "patient_id": "pat_" + "b" * 32}
    for status, shown, archived in (("archived", "current", True), ("current", "current", False),
                                    ("replaced", "superseded", False)):
        resource = document_reference({**stored, "status": status}, INS, "https://dmp.example")
        DocumentReference.model_validate(resource)
        assert resource["status"] == shown
        assert resource["extension"] == [{"url": IS_ARCHIVED, "valueBoolean": archived}]
