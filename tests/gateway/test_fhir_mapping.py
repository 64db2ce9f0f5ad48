"""What the facade accepts (services/gateway/fhir_mapping.py): any shape of DocumentReference or Bundle is
either understood or refused with InvalidInput naming what is wrong; nothing else escapes (a 500)."""

import base64
import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.documentreference import DocumentReference
from fhir.resources.R4B.practitioner import Practitioner
from hypothesis import given, settings
from hypothesis import strategies as st

from services.common.codes import INS_SYSTEM
from services.common.errors import InvalidInput
from services.common.validation import parse
from services.dossier.schemas import DocumentMetadata, DocumentSubmission
from services.gateway.fhir_mapping import (
    CONFIDENTIALITY,
    IS_ARCHIVED,
    LIST_TYPES,
    URI_SYSTEM,
    authors_named,
    document_reference,
    fhir_element,
    provided_documents,
    replaced_document,
    submission,
)
from tests.fhir_profiles import REFERENCE

INS = "180012A00100161"
PDF = base64.b64encode(b"%PDF-1.4 test").decode()
MASTER = {"system": "urn:ietf:rfc:3986", "value": "urn:oid:1.2.250.1.999.7.1"}


def reference(**extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "DocumentReference",
        "status": "current",
        "type": {"coding": [{"system": "http://loinc.org", "code": "11488-4"}]},
        "category": [{"coding": [{"system": "urn:oid:1.2.250.1.213.1.1.4.1", "code": "10"}]}],
        "subject": {"identifier": {"system": INS_SYSTEM, "value": INS}},
        "context": {"period": {"start": "2026-11-20"}},
        "content": [{"attachment": {"contentType": "application/pdf", "data": PDF, "title": "CR"}}],
        **extra,
    }


def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    submission_set = {
        "resourceType": "List",
        "code": {"coding": [{"system": LIST_TYPES, "code": "submissionset"}]},
    }
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": f"urn:uuid:{n}", "resource": resource, "request": {"method": "POST"}}
            for n, resource in enumerate([submission_set, *resources])
        ],
    }


def test_confidentiality_travels_from_the_security_label() -> None:
    labels = [{"coding": [{"system": CONFIDENTIALITY, "code": "R"}]}]
    assert submission(reference(securityLabel=labels))[1]["confidentiality"] == "R"
    assert "confidentiality" not in submission(reference())[1]  # the dossier's default (N)
    with pytest.raises(InvalidInput):
        submission(
            reference(
                securityLabel=[*labels, {"coding": [{"system": CONFIDENTIALITY, "code": "N"}]}]
            )
        )


@pytest.mark.parametrize(
    "broken",
    [
        {"securityLabel": "R"},
        {"securityLabel": [{"coding": "R"}]},
        {"securityLabel": [{"coding": ["R"]}]},
        {"content": "x"},
        {"content": [{"attachment": "x"}]},
        {"content": [{"attachment": {"contentType": "application/pdf", "data": ["x"]}}]},
        {"category": [{"coding": "10"}]},
        {"category": "10"},
        {"type": ["x"]},
        {"subject": {"identifier": "x"}},
        {"subject": {"identifier": {"system": "urn:oid:1.2.3", "value": INS}}},
        {"subject": None},
    ],
)
def test_a_malformed_document_reference_is_refused_naming_the_element(
    broken: dict[str, Any],
) -> None:
    with pytest.raises(InvalidInput) as refused:
        submission(reference(**broken))
    assert refused.value.details[0]["field"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
paths = st.lists(
    st.sampled_from(
        [
            "entry",
            0,
            1,
            2,
            "resource",
            "request",
            "method",
            "fullUrl",
            "content",
            "attachment",
            "url",
            "subject",
            "identifier",
            "value",
            "code",
            "coding",
            "securityLabel",
            "category",
            "type",
            "resourceType",
            "relatesTo",
            "target",
        ]
    ),
    min_size=1,
    max_size=6,
)


def replaced(value: Any, path: list[Any], new: Any) -> Any:
    """value with what is at path (as far as it exists) replaced by new."""
    if not path:
        return new
    step, rest = path[0], path[1:]
    if isinstance(value, dict) and isinstance(step, str) and step in value:
        return {**value, step: replaced(value[step], rest, new)}
    if isinstance(value, list) and isinstance(step, int) and step < len(value):
        return [*value[:step], replaced(value[step], rest, new), *value[step + 1 :]]
    return new if not rest else value


@settings(max_examples=400, deadline=None)
@given(paths, json_values)
def test_any_shape_of_bundle_is_understood_or_refused(path: list[Any], value: Any) -> None:
    replacing = [{"code": "replaces", "target": {"reference": f"DocumentReference/doc-{'d' * 32}"}}]
    original = bundle(
        reference(
            content=[{"attachment": {"contentType": "application/pdf", "url": "urn:uuid:2"}}],
            relatesTo=replacing,
            masterIdentifier=MASTER,
        ),
        {"resourceType": "Binary", "contentType": "application/pdf", "data": PDF},
    )
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
    for wrong in (
        {"system": "urn:dmp:document", "value": master["value"]},
        {**master, "value": "42"},
        {**master, "value": ["urn:oid:1.2"]},
        "urn:oid:1.2",
    ):
        with pytest.raises(InvalidInput) as refused:
            submission(reference(masterIdentifier=wrong))
        assert refused.value.details[0]["field"] == "masterIdentifier"


def test_relates_to_replaces_names_the_old_version_and_other_relations_are_refused() -> None:
    old = "doc-" + "c" * 32
    for target in (f"DocumentReference/{old}", f"https://dmp.example/fhir/DocumentReference/{old}"):
        assert replaced_document(
            reference(relatesTo=[{"code": "replaces", "target": {"reference": target}}])
        ) == ("doc_" + "c" * 32)
    assert replaced_document(reference()) is None
    for relations in (
        [{"code": "appends", "target": {"reference": f"DocumentReference/{old}"}}],
        [{"code": "replaces", "target": {"reference": f"Binary/{old}"}}],
        [{"code": "replaces", "target": {"identifier": {"value": old}}}],
        [{"code": "replaces", "target": {"reference": f"DocumentReference/{old}"}}] * 2,
        "x",
        ["x"],
    ):
        with pytest.raises(InvalidInput) as refused:
            replaced_document(reference(relatesTo=relations))
        assert refused.value.details[0]["field"] == "relatesTo"


def test_an_archived_document_is_current_and_says_it_is_archived() -> None:
    stored = {
        "document_id": "doc_" + "a" * 32,
        "type_code": "11488-4",
        "category": "10",
        "author": {"id": "rpps:1"},
        "created_at": "2026-11-20T10:00:00Z",
        "title": "CR",
        "format": "application/pdf",
        "size": 3,
        "care_date": "2026-11-20",
        "patient_id": "pat_" + "b" * 32,
    }
    for status, shown, archived in (
        ("archived", "current", True),
        ("current", "current", False),
        ("replaced", "superseded", False),
    ):
        resource = document_reference({**stored, "status": status}, INS, "https://dmp.example")
        DocumentReference.model_validate(resource)
        assert resource["status"] == shown
        assert resource["extension"] == [{"url": IS_ARCHIVED, "valueBoolean": archived}]


SNOMED = "http://snomed.info/sct"
CONTEXT = {  # as PDSm4DMP's ITI-65 example sends them, with an end of care and events
    "period": {"start": "2026-11-20", "end": "2026-11-22T18:30:00+01:00"},
    "facilityType": {"coding": [{"system": SNOMED, "code": "22232009", "display": "Hospital"}]},
    "practiceSetting": {
        "coding": [{"system": SNOMED, "code": "394802001", "display": "General medicine"}],
        "text": "Médecine générale",
    },
    "event": [
        {"coding": [{"system": "urn:oid:1.2.250.1.213.2.5", "code": "DEQP003"}]},
        {
            "coding": [
                {"system": SNOMED, "code": "38341003", "display": "Hypertension"},
                {"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10"},
            ]
        },
    ],
    "related": [
        {
            "identifier": {
                "type": {
                    "coding": [
                        {
                            "system": "urn:ihe:iti:xds:2013:referenceIdType",
                            "code": "urn:ihe:iti:xds:2013:accession",
                        }
                    ]
                },
                "system": "urn:oid:1.2.250.1.999.3",
                "value": "ACC-2026-42",
            }
        },
        {"identifier": {"value": "EP-7"}},
    ],
}
FORMAT = {
    "system": "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode",
    "code": "urn:ihe:iti:xds:2017:mimeTypeSufficient",
    "display": "mimeType Sufficient",
}


def as_the_dossier_returns_it(payload: dict[str, Any]) -> dict[str, Any]:
    """What the dossier stores of a submission (services/dossier/service.py _checked and _stored) and answers."""
    metadata = parse(DocumentSubmission, payload).model_dump(mode="json", exclude={"content"})
    record = {
        "_id": "doc_" + "e" * 32,
        "dossier_id": "dos_1",
        **metadata,
        "created_at": "2026-11-23T08:00:00Z",
        "size": 13,
        "sha256": "0" * 64,
        "status": "current",
        "author": {"id": "rpps:10000000008"},
        "patient_id": "pat_" + "b" * 32,
    }
    fields = {key: value for key, value in record.items() if key in DocumentMetadata.model_fields}
    return DocumentMetadata(document_id=record["_id"], **fields).model_dump(mode="json")


def test_submitted_context_codes_end_of_care_and_format_come_back_as_sent() -> None:
    labels = [{"coding": [{"system": CONFIDENTIALITY, "code": "R"}]}]
    sent = reference(
        context=CONTEXT,
        masterIdentifier=MASTER,
        securityLabel=labels,
        content=[
            {
                "attachment": {"contentType": "application/pdf", "data": PDF, "title": "CR"},
                "format": FORMAT,
            }
        ],
    )
    shown = document_reference(
        as_the_dossier_returns_it(submission(sent)[1]), INS, "https://dmp.example"
    )
    DocumentReference.model_validate(shown)
    assert shown["context"]["period"] == CONTEXT["period"]
    for element in ("facilityType", "practiceSetting", "event", "related"):
        assert shown["context"][element] == CONTEXT[element], element
    assert shown["content"][0]["format"] == FORMAT
    assert shown["masterIdentifier"] == MASTER
    assert [
        label["coding"][0]["code"]
        for label in shown["securityLabel"]
        if label["coding"][0]["system"] == CONFIDENTIALITY
    ] == ["R"]


def test_a_document_without_those_codes_shows_none_of_them() -> None:
    shown = document_reference(
        as_the_dossier_returns_it(submission(reference())[1]), INS, "https://dmp.example"
    )
    DocumentReference.model_validate(shown)
    assert (
        shown["context"] == {"period": {"start": "2026-11-20"}}
        and "format" not in shown["content"][0]
    )


@pytest.mark.parametrize(
    ("context", "element"),
    [
        ({"facilityType": "hospital"}, "context.facilityType"),
        ({"facilityType": {"coding": []}}, "context.facilityType"),
        ({"facilityType": {"coding": [{"code": "22232009"}]}}, "context.facilityType.coding[0]"),
        (
            {
                "practiceSetting": {
                    "coding": [{"system": SNOMED, "code": "1", "userSelected": True}]
                }
            },
            "context.practiceSetting.coding[0]",
        ),
        (
            {"practiceSetting": {"coding": [{"system": SNOMED, "code": "1"}], "extension": []}},
            "context.practiceSetting",
        ),
        ({"event": {"coding": []}}, "context.event"),
        (
            {"event": [{"coding": [{"system": SNOMED, "code": "1", "display": 3}]}]},
            "context.event[0].coding[0].display",
        ),
        ({"period": {"start": "2026-11-20", "end": 20261121}}, "context.period.end"),
        ({"related": {"identifier": {"value": "x"}}}, "context.related"),
        ({"related": [{"reference": "ServiceRequest/1"}]}, "context.related[0]"),
        ({"related": [{"identifier": {"value": "x"}, "display": "d"}]}, "context.related[0]"),
        (
            {"related": [{"identifier": {"value": "x", "use": "official"}}]},
            "context.related[0].identifier",
        ),
        ({"related": [{"identifier": {"value": 7}}]}, "context.related[0].identifier.value"),
        (
            {"related": [{"identifier": {"value": "x", "type": "accession"}}]},
            "context.related[0].identifier.type",
        ),
    ],
)
def test_malformed_codes_are_refused_naming_the_element(
    context: dict[str, Any], element: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        submission(reference(context={"period": {"start": "2026-11-20"}, **context}))
    assert refused.value.details[0]["field"] == element


@pytest.mark.parametrize(
    ("changed", "element"),
    [
        ({"period": {"start": "2026-11-20", "end": "2026-11-19"}}, "context.period.end"),
        ({"period": {"start": "2026-11-20", "end": "2026-11-31"}}, "context.period.end"),
        ({"period": {"start": "2026-11-20", "end": "2026-11-21T10:00"}}, "context.period.end"),
        (
            {"facilityType": {"coding": [{"system": "snomed", "code": "1"}]}},
            "context.facilityType.coding[0].system",
        ),
        (
            {"event": [{"coding": [{"system": SNOMED, "code": "two  spaces"}]}]},
            "context.event[0].coding[0].code",
        ),
        ({"event": [{"coding": [{"system": SNOMED, "code": "1"}]}] * 21}, "context.event"),
        (
            {"related": [{"identifier": {"system": "urn:oid:1.2"}}]},
            "context.related[0].identifier.value",
        ),
        (
            {
                "related": [
                    {
                        "identifier": {
                            "value": "x",
                            "type": {"coding": [{"system": "accession", "code": "a"}]},
                        }
                    }
                ]
            },
            "context.related[0].identifier.type.coding[0].system",
        ),
    ],
)
def test_codes_the_dossier_refuses_are_named_as_elements(
    changed: dict[str, Any], element: str
) -> None:
    """The dossier's own validation (DocumentSubmission) refuses them; the facade names the FHIR element."""
    payload = submission(reference(context={"period": {"start": "2026-11-20"}, **changed}))[1]
    with pytest.raises(InvalidInput) as refused:
        parse(DocumentSubmission, payload)
    assert fhir_element(refused.value.details[0]["field"]) == element


def test_iti65_refuses_a_document_without_its_master_identifier_naming_the_entry() -> None:
    with pytest.raises(InvalidInput) as refused:
        provided_documents(bundle(reference(masterIdentifier=MASTER), reference()))
    assert refused.value.details[0]["field"] == "Bundle.entry[2].resource.masterIdentifier"
    assert URI_SYSTEM in refused.value.details[0]["reason"]
    with pytest.raises(InvalidInput) as malformed:
        provided_documents(
            bundle(reference(masterIdentifier={"system": URI_SYSTEM, "value": "1.2.3"}))
        )
    assert malformed.value.details[0]["field"] == "Bundle.entry[1].resource.masterIdentifier"


def test_iti65_refuses_a_bundle_without_its_submission_set_naming_it() -> None:
    without = bundle(reference(masterIdentifier=MASTER))
    without["entry"] = without["entry"][1:]
    with pytest.raises(InvalidInput) as refused:
        provided_documents(without)
    assert (
        refused.value.details[0]["field"] == "Bundle.entry"
        and "SubmissionSet" in refused.value.details[0]["reason"]
    )


def test_iti65_refuses_a_folder_saying_why_rather_than_dropping_it() -> None:
    folder = {
        "resourceType": "List",
        "code": {"coding": [{"system": LIST_TYPES, "code": "folder"}]},
        "entry": [{"item": {"reference": "urn:uuid:2"}}],
    }
    with pytest.raises(InvalidInput) as refused:
        provided_documents(bundle(folder, reference(masterIdentifier=MASTER)))
    [detail] = refused.value.details
    assert detail["field"] == "Bundle.entry[1]" and "keeps no folders" in detail["reason"]


def test_iti65_names_the_element_of_the_entry_at_fault() -> None:
    bad = reference(
        masterIdentifier={**MASTER, "value": "urn:oid:1.2.250.1.999.7.2"},
        context={"period": {"start": "2026-11-20"}, "facilityType": "x"},
    )
    with pytest.raises(InvalidInput) as refused:
        provided_documents(bundle(reference(masterIdentifier=MASTER), bad))
    assert refused.value.details[0]["field"] == "Bundle.entry[2].resource.context.facilityType"


PDSM4DMP = REFERENCE / "ans-pdsm4dmp/example/Bundle-example-td2-iti65-lot-soumission.json"


def test_pdsm4dmp_provide_example_is_understood_with_its_conditional_patient_reference() -> None:
    """ANS's own ITI-65 example (its INS replaced by a valid one): the patient as
    Patient?identifier=<INS system>|<INS>, and its metadata kept as sent."""
    example = json.loads(PDSM4DMP.read_text().replace("123456789012345", INS))
    ins, documents, binaries, replaces = provided_documents(example)
    assert (
        ins == INS
        and [index for index, _ in documents] == [1]
        and binaries == {2: 1}
        and replaces == [None]
    )
    sent = example["entry"][1]["resource"]
    payload = documents[0][1]
    assert payload["unique_id"] == sent["masterIdentifier"]["value"]
    shown = document_reference(
        as_the_dossier_returns_it({**payload, "format": "text/xml"}), INS, "https://dmp.example"
    )
    DocumentReference.model_validate(shown)
    for element in ("facilityType", "practiceSetting", "period"):
        assert shown["context"][element] == sent["context"][element], element
    assert shown["content"][0]["format"] == sent["content"][0]["format"]


def test_a_start_of_care_with_its_time_comes_back_as_sent_and_must_fall_on_the_date_of_care() -> (
    None
):
    period = {"start": "2026-11-20T23:30:00-02:00", "end": "2026-11-21"}
    payload = submission(reference(context={"period": period}))[1]
    assert payload["care_date"] == "2026-11-20"
    shown = document_reference(as_the_dossier_returns_it(payload), INS, "https://dmp.example")
    assert shown["context"]["period"] == period
    with pytest.raises(InvalidInput) as refused:
        parse(DocumentSubmission, {**payload, "care_date": "2026-11-21"})
    assert fhir_element(refused.value.details[0]["field"]) == "context.period.start"


@pytest.mark.parametrize(
    ("subject", "element"),
    [
        ({"reference": f"Patient?identifier=urn:oid:1.2.3|{INS}"}, "subject.reference"),
        ({"reference": f"Patient?name=x&identifier={INS_SYSTEM}|{INS}"}, "subject.reference"),
        ({"reference": "Patient/pat-" + "b" * 32}, "subject.reference"),
        (
            {
                "reference": f"Patient?identifier={INS_SYSTEM}|{INS}",
                "identifier": {"system": INS_SYSTEM, "value": "280012A00100109"},
            },
            "subject",
        ),
        ({"reference": 3}, "subject.reference"),
    ],
)
def test_a_subject_naming_no_patient_by_ins_or_two_is_refused(
    subject: dict[str, Any], element: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        submission(reference(subject=subject))
    assert refused.value.details[0]["field"] == element


def test_a_subject_by_conditional_reference_or_beside_its_literal_one_names_the_patient() -> None:
    for subject in (
        {"reference": f"Patient?identifier={INS_SYSTEM}%7C{INS}"},
        {"reference": f"Patient?identifier={INS_SYSTEM}|{INS}"},
        {
            "reference": "Patient/pat-" + "b" * 32,
            "identifier": {"system": INS_SYSTEM, "value": INS},
        },
    ):
        assert submission(reference(subject=subject))[0] == INS


def test_a_size_or_hash_that_does_not_describe_the_bytes_is_refused_naming_it() -> None:
    data = base64.b64decode(PDF)
    right = {
        "size": len(data),
        "hash": base64.b64encode(hashlib.sha1(data, usedforsecurity=False).digest()).decode(),
    }
    attachment = {"contentType": "application/pdf", "data": PDF, "title": "CR"}
    assert (
        submission(reference(content=[{"attachment": {**attachment, **right}}]))[1]["content"]
        == PDF
    )
    for wrong, element in (
        ({"size": len(data) + 1}, "size"),
        ({"size": str(len(data))}, "size"),
        ({"size": True}, "size"),
        ({"hash": base64.b64encode(b"0" * 20).decode()}, "hash"),
        ({"hash": 3}, "hash"),
    ):
        with pytest.raises(InvalidInput) as refused:
            submission(reference(content=[{"attachment": {**attachment, **right, **wrong}}]))
        assert refused.value.details[0]["field"] == f"content[0].attachment.{element}"


JDV_J08 = REFERENCE / "ans-terminologie/ValueSet-JDV-J08-XdsConfidentialityCode-CISIS.json"


def test_security_labels_of_the_french_value_set_are_kept_and_another_system_is_refused() -> None:
    """JDV_J08 (the DMP's confidentiality value set) names HL7 confidentiality and TRE_A07 by their NOS URLs."""
    included = json.loads(JDV_J08.read_text())["compose"]["include"]
    confidentiality, visibility = (
        next(i["system"] for i in included if name in i["system"])
        for name in ("TRE_A08", "TRE_A07")
    )
    labels = [
        {"coding": [{"system": confidentiality, "code": "V"}]},
        {"coding": [{"system": visibility, "code": "INVISIBLE_PATIENT"}]},
    ]
    payload = submission(reference(securityLabel=labels))[1]
    assert payload["confidentiality"] == "V" and payload["visibility"] == ["INVISIBLE_PATIENT"]
    for coding in (
        {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "PSY"},
        {"code": "INVISIBLE_PATIENT"},
        {"system": [visibility], "code": "INVISIBLE_PATIENT"},
    ):
        with pytest.raises(InvalidInput) as refused:
            submission(reference(securityLabel=[*labels, {"coding": [coding]}]))
        assert refused.value.details[0]["field"] == "securityLabel"


def test_iti65_refuses_an_entry_whose_request_url_is_not_its_resource_type() -> None:
    provided = bundle(reference(masterIdentifier=MASTER))
    provided["entry"][1]["request"]["url"] = "DocumentReference"
    assert provided_documents(provided)[0] == INS
    for url in ("Binary", "DocumentReference/doc-1", ["DocumentReference"]):
        provided["entry"][1]["request"]["url"] = url
        with pytest.raises(InvalidInput) as refused:
            provided_documents(provided)
        assert refused.value.details[0]["field"] == "Bundle.entry[1].request.url"


REPLACEMENT = REFERENCE / "ans-pdsm4dmp/example/Bundle-example-td2-1-remplacement.json"
OLD = "doc-" + "c" * 32


def replacement_example() -> dict[str, Any]:
    """ANS's PDSm4DMP replacement Bundle (List, the new DocumentReference, a PATCH of the old one to superseded,
    the Binary), its patient and replaced document ours."""
    example: dict[str, Any] = json.loads(
        REPLACEMENT.read_text().replace("123456789012345", INS).replace("doc-x-id", OLD)
    )
    return example


def test_pdsm4dmp_replacement_example_with_its_patch_of_the_old_document_is_understood() -> None:
    ins, documents, _, replaces = provided_documents(replacement_example())
    assert (
        ins == INS and [index for index, _ in documents] == [1] and replaces == ["doc_" + "c" * 32]
    )


@pytest.mark.parametrize(
    "change",
    [
        lambda b: b["entry"][2]["request"].update(
            url="DocumentReference/doc-" + "d" * 32
        ),  # not the replaced one
        lambda b: b["entry"][1]["resource"].pop("relatesTo"),  # nothing replaced
        lambda b: b["entry"][2]["resource"]["parameter"][0]["part"][2].update(
            valueCode="entered-in-error"
        ),
        lambda b: b["entry"][2]["resource"]["parameter"][0]["part"][1].update(
            valueString="DocumentReference.type"
        ),
        lambda b: b["entry"][2]["resource"]["parameter"].append(
            b["entry"][2]["resource"]["parameter"][0]
        ),
        lambda b: b["entry"][2]["resource"].update(parameter="x"),
        lambda b: b["entry"][2]["request"].update(url=3),
    ],
)
def test_a_patch_that_is_not_the_superseding_of_the_replaced_document_is_refused(
    change: Any,
) -> None:
    example = replacement_example()
    change(example)
    with pytest.raises(InvalidInput) as refused:
        provided_documents(example)
    assert refused.value.details[0]["field"].startswith(("Bundle.entry[2]", "Bundle.entry[1]"))


AS_PRACTITIONER = REFERENCE / "ans-annuaire" / "StructureDefinition-as-practitioner.json"
PDSM_DOCUMENT_REFERENCE = (
    REFERENCE / "ans-pdsm" / "StructureDefinition-pdsm-comprehensive-document-reference.json"
)
PDSM4DMP_EXAMPLES = REFERENCE / "ans-pdsm4dmp" / "example"


def profile_elements(path: Path) -> dict[str, dict[str, Any]]:
    return {
        element["id"]: element for element in json.loads(path.read_text())["snapshot"]["element"]
    }


def test_the_author_is_a_contained_practitioner_named_by_idnat_ps_as_the_ans_profiles_say() -> None:
    """PDSm: authors are contained (aggregation), as-practitioner; its idNatPs slice: type IDNPS (pattern),
    system urn:oid:1.2.250.1.71.4.2.1 (fixed), value 8 + RPPS."""
    stored = as_the_dossier_returns_it(submission(reference())[1])
    shown = document_reference(stored, INS, "https://dmp.example")
    DocumentReference.model_validate(shown)
    pdsm = profile_elements(PDSM_DOCUMENT_REFERENCE)["DocumentReference.author"]
    assert pdsm["type"][0]["aggregation"] == ["contained"]
    [author] = shown["author"]
    [practitioner] = [c for c in shown["contained"] if f"#{c['id']}" == author["reference"]]
    Practitioner.model_validate(practitioner)
    slice_ = profile_elements(AS_PRACTITIONER)
    assert practitioner["resourceType"] == "Practitioner"
    [identifier] = practitioner["identifier"]
    assert identifier["system"] == slice_["Practitioner.identifier:idNatPs.system"]["patternUri"]
    pattern = slice_["Practitioner.identifier:idNatPs.type"]["patternCodeableConcept"]["coding"][0]
    assert any(
        all(coding.get(key) == value for key, value in pattern.items())
        for coding in identifier["type"]["coding"]
    )
    assert identifier["value"] == "8" + stored["author"]["id"].removeprefix("rpps:")
    assert "name" not in practitioner  # kept before names were: by identifier alone


def test_the_author_is_named_as_registered_when_the_dossier_kept_their_name() -> None:
    """author.given / author.family search the contained Practitioner's name (the professional's registered
    name, kept with the document at deposit)."""
    stored = as_the_dossier_returns_it(submission(reference())[1])
    stored["author_name"] = {"given": "Élodie", "family": "Le Gall"}
    shown = document_reference(stored, INS, "https://dmp.example")
    DocumentReference.model_validate(shown)
    [practitioner] = shown["contained"]
    Practitioner.model_validate(practitioner)
    assert practitioner["name"] == [{"family": "Le Gall", "given": ["Élodie"]}]


@pytest.mark.parametrize(
    "example",
    [
        "DocumentReference-doc-x-id.json",  # a contained Practitioner
        "DocumentReference-example-td3-1a-cr-consultation.json",  # a contained PractitionerRole
    ],
)
def test_the_ans_examples_authors_are_read_as_their_professional(example: str) -> None:
    resource = json.loads((PDSM4DMP_EXAMPLES / example).read_text())
    assert authors_named(resource) == ["rpps:99700218896"]


def typed_author(value: str, **identifier: Any) -> dict[str, Any]:
    return reference(
        contained=[
            {
                "resourceType": "Practitioner",
                "id": "a",
                "identifier": [
                    {"system": "urn:oid:1.2.250.1.71.4.2.1", "value": value, **identifier}
                ],
            }
        ],
        author=[{"reference": "#a"}],
    )


def test_authors_are_read_by_idnat_ps_typed_or_not_contained_or_by_identifier() -> None:
    assert authors_named(reference()) == []
    idnps = {
        "coding": [
            {"system": "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203", "code": "IDNPS"}
        ]
    }
    assert authors_named(typed_author("810000000009", type=idnps)) == ["rpps:10000000009"]
    by_identifier = reference(
        author=[{"identifier": {"system": "urn:oid:1.2.250.1.71.4.2.1", "value": "810000000009"}}]
    )
    assert authors_named(by_identifier) == ["rpps:10000000009"]


@pytest.mark.parametrize(
    ("resource", "field"),
    [
        (typed_author("10000000009"), "author[0]"),  # the RPPS without its 8
        (typed_author("010000000009"), "author[0]"),  # 0 + ADELI: not an as-practitioner IdNat_PS
        (typed_author("810000000009", type={"coding": [{"code": "RPPS"}]}), "author[0]"),
        (reference(author=[{"reference": "Practitioner/123"}]), "author[0].reference"),
        (reference(author=[{"reference": "#missing"}]), "author[0].reference"),
        (
            reference(
                contained=[{"resourceType": "Device", "id": "d"}], author=[{"reference": "#d"}]
            ),
            "author[0].reference",
        ),
        (reference(author=[{"display": "Dr Martin"}]), "author[0]"),
        (
            reference(
                author=[{"identifier": {"system": "https://rpps.esante.gouv.fr", "value": "1"}}]
            ),
            "author[0].identifier",
        ),
        (reference(author={"reference": "#a"}), "author"),
    ],
)
def test_an_author_not_named_by_idnat_ps_is_refused_naming_it(
    resource: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        authors_named(resource)
    assert refused.value.details[0]["field"] == field
