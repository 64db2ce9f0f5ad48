"""The FHIR R4 facade (IHE MHD): every resource it returns validates with fhir.resources, and two
unmodified stock clients (fhirpy and fhirclient) deposit, search and read through it."""

import base64
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.documentreference import DocumentReference
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhirclient.client import FHIRClient
from fhirclient.models.documentreference import DocumentReference as ClientDocumentReference
from fhirpy import SyncFHIRClient

from services.common.codes import INS_SYSTEM
from tests.e2e.conftest import Api, Running

pytestmark = pytest.mark.slow
PDF = b"%PDF-1.4 compte rendu FHIR"


def reference(ins: str, content: bytes | None = None, url: str | None = None, **extra: Any) -> dict[str, Any]:
    attachment: dict[str, Any] = {"contentType": "application/pdf", "title": "CR de consultation"}
    if content is not None:
        attachment["data"] = base64.b64encode(content).decode()
    if url:
        attachment["url"] = url
    return {
        "resourceType": "DocumentReference", "status": "current",
        "type": {"coding": [{"system": "http://loinc.org", "code": "11488-4"}]},
        "category": [{"coding": [{"system": "urn:oid:1.2.250.1.213.1.1.4.1", "code": "10"}]}],
        "subject": {"identifier": {"system": INS_SYSTEM, "value": ins}},
        "context": {"period": {"start": "2026-11-20"}}, "content": [{"attachment": attachment}], **extra,
    }


def test_capability_statement_is_valid(system: Running) -> None:
    response = system.http.get("/fhir/metadata")
    assert response.headers["content-type"].startswith("application/fhir+json")
    CapabilityStatement.model_validate(response.json())


def test_iti65_provide_then_iti67_find_and_iti68_retrieve(system: Running, api: Api) -> None:
    http = system.http
    ins, patient, doctor = api.dossier_with_consenting_doctor("fhir@patients.dmp-test.fr")
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:1f1a7e88-0000-4000-8000-000000000001",
         "resource": {"resourceType": "List", "status": "current", "mode": "working", "title": "SubmissionSet"},
         "request": {"method": "POST", "url": "List"}},
        {"fullUrl": "urn:uuid:1f1a7e88-0000-4000-8000-000000000002",
         "resource": reference(ins, url="urn:uuid:1f1a7e88-0000-4000-8000-000000000003",
                               securityLabel=[{"coding": [{"system": "urn:oid:1.2.250.1.213.1.1.4.13",
                                                           "code": "INVISIBLE_REPRESENTANTS_LEGAUX"}]}]),
         "request": {"method": "POST", "url": "DocumentReference"}},
        {"fullUrl": "urn:uuid:1f1a7e88-0000-4000-8000-000000000003",
         "resource": {"resourceType": "Binary", "contentType": "application/pdf",
                      "data": base64.b64encode(PDF).decode()},
         "request": {"method": "POST", "url": "Binary"}},
    ]}
    provided = http.post("/fhir", json=bundle, headers=doctor)
    assert provided.status_code == 200, provided.text
    Bundle.model_validate(provided.json())
    location = provided.json()["entry"][0]["response"]["location"]

    found = http.get("/fhir/DocumentReference", params={"patient.identifier": f"{INS_SYSTEM}|{ins}",
                                                        "category": "10", "date": "ge2026-01-01"}, headers=patient)
    searchset: Any = Bundle.model_validate(found.json())
    assert searchset.total == 1
    document: Any = DocumentReference.model_validate(found.json()["entry"][0]["resource"])
    assert f"DocumentReference/{document.id}" == location
    assert any(c.code == "INVISIBLE_REPRESENTANTS_LEGAUX" for label in document.securityLabel for c in label.coding)

    read = http.get(f"/fhir/DocumentReference/{document.id}", headers=patient)
    DocumentReference.model_validate(read.json())
    binary = http.get(document.content[0].attachment.url.replace(str(http.base_url).rstrip("/"), ""), headers=patient)
    assert binary.content == PDF and binary.headers["content-type"] == "application/pdf"


def test_errors_are_operation_outcomes(system: Running, api: Api) -> None:
    http = system.http
    ins, _, doctor = api.dossier_with_consenting_doctor("fhir-errors@patients.dmp-test.fr")
    missing = http.get("/fhir/DocumentReference", headers=doctor)
    assert missing.status_code == 422
    missing_outcome: Any = OperationOutcome.model_validate(missing.json())
    assert missing_outcome.issue[0].code == "invalid"
    _, stranger = api.professional("10")
    refused = http.get("/fhir/DocumentReference", params={"patient.identifier": ins}, headers=stranger)
    outcome: Any = OperationOutcome.model_validate(refused.json())
    assert refused.status_code == 403 and outcome.issue[0].code == "forbidden"
    assert outcome.issue[0].details.text == "R-NO-CONSENT"
    unknown = http.get("/fhir/Binary/doc-00000000000000000000000000000000", headers=stranger)
    assert unknown.status_code == 404 and OperationOutcome.model_validate(unknown.json())


def test_stock_fhirpy_client_deposits_searches_and_reads(system: Running, api: Api) -> None:
    ins, patient, doctor = api.dossier_with_consenting_doctor("fhirpy@patients.dmp-test.fr")
    base = f"{system.stack.gateway_url}/fhir"
    as_doctor = SyncFHIRClient(base, authorization=doctor["Authorization"])
    created = as_doctor.resource("DocumentReference", **reference(ins, content=PDF))
    created.save()
    assert created.id and created.id.startswith("doc-")
    as_patient = SyncFHIRClient(base, authorization=patient["Authorization"])
    results = as_patient.resources("DocumentReference").search(**{"patient.identifier": ins}).fetch()
    assert [r.id for r in results] == [created.id]
    again = as_patient.reference("DocumentReference", created.id).to_resource()
    assert again["content"][0]["attachment"]["contentType"] == "application/pdf"


def test_stock_fhirclient_deposits_searches_and_reads(system: Running, api: Api) -> None:
    ins, patient, doctor = api.dossier_with_consenting_doctor("fhirclient@patients.dmp-test.fr")
    base = f"{system.stack.gateway_url}/fhir"
    as_doctor = FHIRClient(settings={"app_id": "dmp-tests", "api_base": base})
    as_doctor.server.session.headers["Authorization"] = doctor["Authorization"]
    created: Any = ClientDocumentReference(reference(ins, content=PDF)).create(as_doctor.server)
    assert created["resourceType"] == "DocumentReference" and created["id"].startswith("doc-")
    as_patient = FHIRClient(settings={"app_id": "dmp-tests", "api_base": base})
    as_patient.server.session.headers["Authorization"] = patient["Authorization"]
    found: Any = ClientDocumentReference.where(struct={"patient.identifier": ins}).perform_resources(as_patient.server)
    assert [d.id for d in found] == [created["id"]] and found[0].category[0].coding[0].code == "10"
    read: Any = ClientDocumentReference.read(created["id"], as_patient.server)
    assert read.content[0].attachment.contentType == "application/pdf"
