"""Between the DMP's shapes and FHIR R4 resources, following IHE MHD as profiled by France's ANS: pure
functions, no I/O. Patients are identified by the INS identifier system; document classes by TRE_A03;
visibility codes (TRE_A07) and HL7 confidentiality travel as DocumentReference.securityLabel."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from services.common.codes import CATEGORIES, INS_SYSTEM
from services.common.errors import InvalidInput, NotFound

CLASS_SYSTEM = "urn:oid:1.2.250.1.213.1.1.4.1"  # TRE_A03 ClasseDocument
TYPE_SYSTEM_NATIONAL = "urn:oid:1.2.250.1.213.1.1.4.12"  # TRE_A05 TypeDocComplementaire
LOINC = "http://loinc.org"
VISIBILITY_SYSTEM = "urn:oid:1.2.250.1.213.1.1.4.13"  # TRE_A07 StatutVisibiliteDocument
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
RPPS_SYSTEM = "urn:oid:1.2.250.1.71.4.2.1"
STATUS = {"current": "current", "archived": "current", "replaced": "superseded", "deleted": "entered-in-error"}
LOINC_CODE = re.compile(r"^\d{1,6}-\d$")


DOCUMENT_SYSTEM = "urn:dmp:document"  # masterIdentifier: our document id
DOCUMENT_ID = re.compile(r"^doc_[0-9a-f]{32}$")
FHIR_DOCUMENT_ID = re.compile(r"^doc-[0-9a-f]{32}$")
FHIR_PATIENT_ID = re.compile(r"^pat-[0-9a-f]{32}$")


def type_system(type_code: str) -> str:
    """The code system a type code is emitted in: LOINC for LOINC-shaped codes, else the national one."""
    return LOINC if LOINC_CODE.match(type_code) else TYPE_SYSTEM_NATIONAL


def document_reference(document: dict[str, Any], ins: str, base_url: str) -> dict[str, Any]:
    type_system_ = type_system(document["type_code"])
    author = document["author"]
    labels = [{"system": VISIBILITY_SYSTEM, "code": code} for code in document.get("visibility", [])]
    labels.append({"system": CONFIDENTIALITY, "code": document.get("confidentiality", "N")})
    resource: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "id": fhir_id(document["document_id"]),
        "masterIdentifier": {"system": DOCUMENT_SYSTEM, "value": document["document_id"]},
        "status": STATUS[document["status"]],
        "type": {"coding": [{"system": type_system_, "code": document["type_code"]}]},
        "category": [{"coding": [{"system": CLASS_SYSTEM, "code": document["category"],
                                  "display": CATEGORIES[document["category"]]}]}],
        "subject": _subject(document.get("patient_id"), ins),
        "date": document["created_at"],
        "author": [{"identifier": _author(author["id"])}],
        "description": document["title"],
        "securityLabel": [{"coding": [label]} for label in labels],
        "content": [{"attachment": {
            "contentType": document["format"], "url": f"{base_url}/fhir/Binary/{fhir_id(document['document_id'])}",
            "size": document["size"], "title": document["title"], "creation": f"{document['care_date']}T00:00:00Z",
        }}],
        "context": {"period": {"start": document["care_date"]}},
    }
    if document.get("replaces"):
        target = {"reference": f"DocumentReference/{fhir_id(document['replaces'])}"}
        resource["relatesTo"] = [{"code": "replaces", "target": target}]
    return resource


def fhir_id(document_id: str) -> str:
    return document_id.replace("_", "-")


def _author(actor_id: str) -> dict[str, str]:
    if actor_id.startswith("rpps:"):
        return {"system": RPPS_SYSTEM, "value": actor_id.removeprefix("rpps:")}
    return {"system": "urn:dmp:actor", "value": actor_id}


def _subject(patient_id: str | None, ins: str) -> dict[str, Any]:
    """The patient by INS, and by the id that `patient=Patient/<id>` searches take."""
    subject: dict[str, Any] = {"identifier": {"system": INS_SYSTEM, "value": ins}}
    if patient_id:
        subject = {"reference": f"Patient/{fhir_id(patient_id)}", **subject}
    return subject


def document_id(fhir_id: str) -> str:
    """FHIR ids allow no underscore: doc-<hex> in FHIR is doc_<hex> here. Any other id is passed on as it is,
    so that the dossier answers it exactly like an unknown one (404), and traces it as malformed."""
    return fhir_id.replace("-", "_", 1) if FHIR_DOCUMENT_ID.match(fhir_id) else fhir_id


def searched_document_id(fhir_id: str) -> str | None:
    """The document an `_id` search names, None for an id no document of ours can have (matches nothing)."""
    return fhir_id.replace("-", "_", 1) if FHIR_DOCUMENT_ID.match(fhir_id) else None


def is_document_id(value: str) -> bool:
    return bool(DOCUMENT_ID.match(value))


def patient_id(fhir_id: str) -> str:
    """pat-<hex> in FHIR is pat_<hex> here; another id of a plausible length is passed on (the dossier finds
    no patient by it), a longer one answers here as the dossier answers an unknown id."""
    if FHIR_PATIENT_ID.match(fhir_id):
        return fhir_id.replace("-", "_", 1)
    if len(fhir_id) > 64:
        raise NotFound("this patient has no dossier", [{"field": "patient_id"}])
    return fhir_id


def patient_ins(identifier: str | None) -> str:
    """`patient.identifier` as `system|value` (the INS system) or the bare INS."""
    if not identifier:
        raise InvalidInput.for_field("patient.identifier", f"is required ({INS_SYSTEM}|<INS>)")
    system, _, value = identifier.rpartition("|")
    if system and system != INS_SYSTEM:
        raise InvalidInput.for_field("patient.identifier", f"must use the INS system {INS_SYSTEM}")
    return value


def submission(reference: dict[str, Any], binary: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """(INS, DocumentSubmission payload) from a DocumentReference and, for ITI-65, its Binary."""
    try:
        ins = patient_ins(f"{reference['subject']['identifier'].get('system', '')}|"
                          f"{reference['subject']['identifier']['value']}")
        attachment = reference["content"][0]["attachment"]
        category = reference["category"][0]["coding"][0]["code"]
        type_code = reference["type"]["coding"][0]["code"]
    except (KeyError, IndexError, TypeError):
        raise InvalidInput.for_field(
            "DocumentReference", "needs subject.identifier (INS), category, type and content.attachment") from None
    data = (binary or {}).get("data") or attachment.get("data")
    content_type = (binary or {}).get("contentType") or attachment.get("contentType")
    if not data or not content_type:
        raise InvalidInput.for_field("content.attachment", "needs data (or a Binary in the Bundle) and contentType")
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput.for_field("content.attachment.data", "is not valid base64") from None
    codings = [coding for label in reference.get("securityLabel", []) for coding in label.get("coding", [])]
    visibility = [coding["code"] for coding in codings if coding.get("system") == VISIBILITY_SYSTEM]
    care = (reference.get("context", {}).get("period", {}).get("start") or reference.get("date") or "")[:10]
    payload = {
        "category": category, "type_code": type_code, "format": content_type, "content": data,
        "title": attachment.get("title") or reference.get("description") or type_code, "care_date": care,
        "visibility": visibility,
    }
    return ins, payload


def operation_outcome(
    status: int, code: str, diagnostics: str, rule: str | None = None, fields: list[str] | None = None
) -> dict[str, Any]:
    """`fields`: the parameters or elements at fault, named in `expression` for bad input (400, 422)."""
    issue_code = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found", 409: "conflict",
                  413: "too-costly", 422: "invalid", 429: "throttled"}.get(status, "exception")
    issue: dict[str, Any] = {"severity": "error", "code": issue_code, "diagnostics": diagnostics}
    if rule:
        issue["details"] = {"coding": [{"system": "urn:dmp:rule", "code": rule}], "text": rule}
    if fields and status in {400, 422}:
        issue["expression"] = fields
    return {"resourceType": "OperationOutcome", "issue": [issue]}

