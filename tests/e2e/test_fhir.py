"""The FHIR R4 facade (IHE MHD): every resource it returns validates with fhir.resources, and two
unmodified stock clients (fhirpy and fhirclient) deposit, search and read through it."""

import base64
import hashlib
import json
import random
import uuid
from datetime import datetime
from email.utils import parsedate_to_datetime
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
from services.gateway.fhir_mapping import CONFIDENTIALITY, IS_ARCHIVED, VISIBILITY_SYSTEM
from services.gateway.fhir_search import SUPPORTED
from tests.fhir_profiles import REFERENCE
from tests.journeys import eventually
from tests.system import Api, Running, document

pytestmark = pytest.mark.slow
CDA_LEVEL_1 = (
    b'<?xml version="1.0" encoding="UTF-8"?><ClinicalDocument xmlns="urn:hl7-org:v3"><component>'
    b'<nonXMLBody><text mediaType="application/pdf" representation="B64">JVBERi0xLjQ=</text></nonXMLBody>'
    b"</component></ClinicalDocument>"
)
PDSM4DMP_REPLACEMENT = REFERENCE / "ans-pdsm4dmp/example/Bundle-example-td2-1-remplacement.json"
PDSM4DMP_EXAMPLE = REFERENCE / "ans-pdsm4dmp/example/Bundle-example-td2-iti65-lot-soumission.json"
PDF = b"%PDF-1.4 compte rendu FHIR"
SUBMISSION_SET = {
    "resourceType": "List",
    "status": "current",
    "mode": "working",
    "title": "SubmissionSet",
    "code": {
        "coding": [
            {
                "system": "https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes",
                "code": "submissionset",
            }
        ]
    },
}


EXAMPLE_RPPS = "99700218896"  # the author of ANS's examples (IdNat_PS 899700218896)


def dossier_with_doctor(api: Api, email: str) -> tuple[str, dict[str, str], dict[str, str], str]:
    """(ins, patient headers, doctor headers, the doctor's RPPS) once the dossier is open and consent recorded."""
    ins, patient = api.patient(email)
    rpps, doctor = api.professional("10")
    assert api.http.post("/api/v1/dossiers", json={"ins": ins}, headers=patient).status_code == 201
    assert api.http.post(f"/api/v1/patients/{ins}/consents", headers=doctor).status_code == 201
    return ins, patient, doctor, rpps


def reference(
    ins: str, content: bytes | None = None, url: str | None = None, **extra: Any
) -> dict[str, Any]:
    attachment: dict[str, Any] = {"contentType": "application/pdf", "title": "CR de consultation"}
    if content is not None:
        attachment["data"] = base64.b64encode(content).decode()
    if url:
        attachment["url"] = url
    return {
        "resourceType": "DocumentReference",
        "status": "current",
        "type": {"coding": [{"system": "http://loinc.org", "code": "11488-4"}]},
        "category": [{"coding": [{"system": "urn:oid:1.2.250.1.213.1.1.4.1", "code": "10"}]}],
        "subject": {"identifier": {"system": INS_SYSTEM, "value": ins}},
        "context": {"period": {"start": "2026-11-20"}},
        "content": [{"attachment": attachment}],
        **extra,
    }


def test_capability_statement_is_valid(system: Running) -> None:
    response = system.http.get("/fhir/metadata")
    assert response.headers["content-type"].startswith("application/fhir+json")
    CapabilityStatement.model_validate(response.json())
    document_reference = response.json()["rest"][0]["resource"][0]
    listed = {param["name"] for param in document_reference["searchParam"]}
    assert listed == set(SUPPORTED) - {"_count", "_cursor"}  # exactly what the search applies
    assert {"read", "vread", "search-type", "create", "patch"} == {
        i["code"] for i in document_reference["interaction"]
    }


def test_iti65_provide_then_iti67_find_and_iti68_retrieve(system: Running, api: Api) -> None:
    http = system.http
    ins, patient, doctor = api.dossier_with_consenting_doctor("fhir@patients.dmp-test.fr")
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:1f1a7e88-0000-4000-8000-000000000001",
                "resource": SUBMISSION_SET,
                "request": {"method": "POST", "url": "List"},
            },
            {
                "fullUrl": "urn:uuid:1f1a7e88-0000-4000-8000-000000000002",
                "resource": reference(
                    ins,
                    url="urn:uuid:1f1a7e88-0000-4000-8000-000000000003",
                    masterIdentifier={
                        "system": "urn:ietf:rfc:3986",
                        "value": "urn:uuid:1f1a7e88-0000-4000-8000-0000000000aa",
                    },
                    securityLabel=[
                        {
                            "coding": [
                                {
                                    "system": "urn:oid:1.2.250.1.213.1.1.4.13",
                                    "code": "INVISIBLE_REPRESENTANTS_LEGAUX",
                                }
                            ]
                        },
                        {"coding": [{"system": CONFIDENTIALITY, "code": "R"}]},
                    ],
                ),
                "request": {"method": "POST", "url": "DocumentReference"},
            },
            {
                "fullUrl": "urn:uuid:1f1a7e88-0000-4000-8000-000000000003",
                "resource": {
                    "resourceType": "Binary",
                    "contentType": "application/pdf",
                    "data": base64.b64encode(PDF).decode(),
                },
                "request": {"method": "POST", "url": "Binary"},
            },
        ],
    }
    provided = http.post("/fhir", json=bundle, headers=doctor)
    assert provided.status_code == 200, provided.text
    Bundle.model_validate(provided.json())
    responses = [entry["response"] for entry in provided.json()["entry"]]
    assert [r["status"] for r in responses] == [
        "201 Created"
    ] * 3  # one per request entry, in order
    assert responses[0]["location"].startswith("List/sub-")  # the submission set, kept (ITI-66)
    assert responses[0]["location"].endswith("/_history/1")
    assert responses[1]["location"].endswith("/_history/1")
    location = responses[1]["location"].removesuffix("/_history/1")
    assert location.startswith("DocumentReference/doc-")
    assert (
        responses[2]["location"]
        == location.replace("DocumentReference/", "Binary/") + "/_history/1"
    )

    found = http.get(
        "/fhir/DocumentReference",
        params={
            "patient.identifier": f"{INS_SYSTEM}|{ins}",
            "category": "10",
            "date": "ge2026-01-01",
        },
        headers=patient,
    )
    searchset: Any = Bundle.model_validate(found.json())
    assert searchset.total == 1
    document: Any = DocumentReference.model_validate(found.json()["entry"][0]["resource"])
    assert f"DocumentReference/{document.id}" == location
    assert any(
        c.code == "INVISIBLE_REPRESENTANTS_LEGAUX"
        for label in document.securityLabel
        for c in label.coding
    )
    assert [
        c.code
        for label in document.securityLabel
        for c in label.coding
        if c.system == CONFIDENTIALITY
    ] == ["R"]

    read = http.get(f"/fhir/DocumentReference/{document.id}", headers=patient)
    DocumentReference.model_validate(read.json())
    binary = http.get(
        document.content[0].attachment.url.replace(str(http.base_url).rstrip("/"), ""),
        headers=patient,
    )
    assert binary.content == PDF and binary.headers["content-type"] == "application/pdf"
    version = http.get(f"/fhir/{responses[2]['location']}", headers=patient)
    assert version.content == PDF and version.headers["content-type"] == "application/pdf"
    assert (
        http.get(
            f"/fhir/{location.replace('DocumentReference/', 'Binary/')}/_history/2", headers=patient
        ).status_code
        == 404
    )


def test_errors_are_operation_outcomes(system: Running, api: Api) -> None:
    http = system.http
    ins, _, doctor = api.dossier_with_consenting_doctor("fhir-errors@patients.dmp-test.fr")
    missing = http.get("/fhir/DocumentReference", headers=doctor)
    assert missing.status_code == 400
    missing_outcome: Any = OperationOutcome.model_validate(missing.json())
    assert (
        missing_outcome.issue[0].code == "invalid"
        and "patient" in missing_outcome.issue[0].diagnostics
    )
    _, stranger = api.professional("10")
    refused = http.get(
        "/fhir/DocumentReference", params={"patient.identifier": ins}, headers=stranger
    )
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
    results = (
        as_patient.resources("DocumentReference").search(**{"patient.identifier": ins}).fetch()
    )
    assert [r.id for r in results] == [created.id]
    documents = as_patient.resources("DocumentReference")
    # fhirpy's count() (_count=0 with its own _totalMethod, ignored) and the newer parameters, as fhirpy sends them.
    assert documents.search(**{"patient.identifier": ins, "security-label": "N"}).count() == 1
    assert documents.search(**{"patient.identifier": ins, "security-label": "R"}).count() == 0
    assert documents.search(**{"patient.identifier": ins, "isArchived": "false"}).count() == 1
    assert (
        documents.search(**{"patient.identifier": ins}).search(_lastUpdated="lt2026-01-01").count()
        == 0
    )
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
    found: Any = ClientDocumentReference.where(
        struct={"patient.identifier": ins}
    ).perform_resources(as_patient.server)
    assert [d.id for d in found] == [created["id"]] and found[0].category[0].coding[0].code == "10"
    read: Any = ClientDocumentReference.read(created["id"], as_patient.server)
    assert read.content[0].attachment.contentType == "application/pdf"


def deposit(
    api: Api, ins: str, who: dict[str, str], raw: bytes, **overrides: Any
) -> dict[str, Any]:
    created = api.http.post(
        f"/api/v1/patients/{ins}/documents", json=document(raw, **overrides), headers=who
    )
    assert created.status_code == 201, created.text
    stored: dict[str, Any] = created.json()
    return stored


def fid(document_id: str) -> str:
    return document_id.replace("_", "-")


def found(response: Any) -> list[str]:
    """The DocumentReference ids of a searchset, after checking it validates."""
    assert response.status_code == 200, response.text
    Bundle.model_validate(response.json())
    return [
        e["resource"]["id"]
        for e in response.json().get("entry", [])
        if e["resource"]["resourceType"] == "DocumentReference"
    ]


SNOMED = "http://snomed.info/sct"
FORMAT_SYSTEM = "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode"
ACCESSION = "urn:oid:1.2.250.1.999.3"
LOINC = "http://loinc.org"


def concept(code: str) -> dict[str, Any]:
    return {"codings": [{"system": SNOMED, "code": code}]}


SUFFICIENT = {"system": FORMAT_SYSTEM, "code": "urn:ihe:iti:xds:2017:mimeTypeSufficient"}
# The codes the corpus's documents carry (the prescription none), for the coded search parameters.
CODES_OF: dict[str, dict[str, Any]] = {
    "first": {
        "practice_setting": concept("394802001"),
        "facility_type": concept("22232009"),
        "events": [concept("38341003")],
        "format_code": SUFFICIENT,
    },
    "new": {
        "practice_setting": concept("394802001"),
        "facility_type": concept("22232009"),
        "format_code": SUFFICIENT,
    },
    "summary": {
        "facility_type": concept("394747008"),
        "events": [concept("38341003"), concept("73211009")],
        "related": [{"system": ACCESSION, "value": "ACC-1"}],
    },
}
# Values of each coded parameter (FHIR name, REST name) the property test picks from.
CODED_PROBES = {
    ("setting", "practice_setting"): [f"{SNOMED}|394802001", "394802001", f"{LOINC}|394802001"],
    ("facility", "facility_type"): [f"{SNOMED}|22232009", f"{SNOMED}|394747008", f"{SNOMED}|"],
    ("event", "event"): [f"{SNOMED}|38341003", "73211009", "|38341003"],
    ("format", "format_code"): [f"{FORMAT_SYSTEM}|", SUFFICIENT["code"]],
    ("related:identifier", "related"): [f"{ACCESSION}|ACC-1", "ACC-1", f"{ACCESSION}|ACC-2"],
}


@pytest.fixture(scope="module")
def corpus(system: Running) -> dict[str, Any]:
    """One dossier with three current documents and a replaced one, for the search tests."""
    api = Api(system.http, system.mailbox)
    ins, patient, doctor = api.dossier_with_consenting_doctor("fhir-search@patients.dmp-test.fr")
    first = deposit(api, ins, doctor, PDF + b" A", care_date="2026-11-20", **CODES_OF["first"])
    summary = deposit(
        api,
        ins,
        doctor,
        PDF + b" B",
        category="11",
        type_code="SYNTH",
        care_date="2026-10-05",
        **CODES_OF["summary"],
    )
    prescription = deposit(
        api, ins, doctor, PDF + b" C", category="42", type_code="57833-6", care_date="2025-03-01"
    )
    replaced = api.http.post(
        f"/api/v1/patients/{ins}/documents/{first['document_id']}/replacement",
        json=document(PDF + b" A2", care_date="2026-11-21", **CODES_OF["new"]),
        headers=doctor,
    )
    assert replaced.status_code == 201, replaced.text
    ids = {
        "old": fid(first["document_id"]),
        "new": fid(replaced.json()["document_id"]),
        "summary": fid(summary["document_id"]),
        "prescription": fid(prescription["document_id"]),
    }
    return {
        "ins": ins,
        "patient": patient,
        "doctor": doctor,
        "ids": ids,
        "patient_id": first["patient_id"],
        "raw": {
            "first": first,
            "summary": summary,
            "prescription": prescription,
            "new": replaced.json(),
        },
    }


def test_iti67_parameters_select_what_they_name(system: Running, corpus: dict[str, Any]) -> None:
    http, ids, patient = system.http, corpus["ids"], corpus["patient"]
    by_ins = {"patient.identifier": f"{INS_SYSTEM}|{corpus['ins']}"}

    def search(**params: str) -> set[str]:
        return set(
            found(http.get("/fhir/DocumentReference", params={**by_ins, **params}, headers=patient))
        )

    current = {ids["new"], ids["summary"], ids["prescription"]}
    assert search() == current  # current by default
    assert search(status="current,superseded") == {*current, ids["old"]}
    assert search(status="superseded") == {ids["old"]}
    assert search(status="entered-in-error") == set()
    assert search(category="10,11") == {ids["new"], ids["summary"]}
    assert search(category="urn:oid:1.2.250.1.213.1.1.4.1|42") == {ids["prescription"]}
    assert search(category="http://example.org/classes|42") == set()  # another system: nothing
    assert search(type="http://loinc.org|11488-4,urn:oid:1.2.250.1.213.1.1.4.12|SYNTH") == {
        ids["new"],
        ids["summary"],
    }
    assert search(type="http://loinc.org|SYNTH") == set()
    assert search(_id=f"{ids['summary']},{ids['prescription']}") == {
        ids["summary"],
        ids["prescription"],
    }
    assert search(_id="not-one-of-ours") == set()
    assert search(identifier=f"urn:dmp:document|{corpus['raw']['summary']['document_id']}") == {
        ids["summary"]
    }
    assert (
        search(identifier=f"urn:ietf:rfc:3986|{corpus['raw']['summary']['document_id']}") == set()
    )
    # period: a range; these have no end (FHIR: ongoing), so each goes on past any day and lies within none.
    assert search(period="ge2026-10") == current
    assert search(period="2026-11-21") == set()
    assert search(period="sa2026-11-20") == {ids["new"]}
    assert search(period="le2026-10-05") == {ids["summary"], ids["prescription"]}
    assert search(period="lt2026") == {ids["prescription"]}
    shown = http.get(f"/fhir/DocumentReference/{ids['summary']}", headers=patient).json()
    assert shown["content"][0]["attachment"]["creation"] == "2026-10-05T00:00:00Z"
    assert search(creation="ge2026-10-05T00:00:00Z") == {
        ids["new"],
        ids["summary"],
    }  # as attachment.creation shows
    assert search(creation="gt2026-10-05T00:00:00Z") == {ids["new"]}
    assert search(creation="lt2026-10-05T00:00:00Z") == {ids["prescription"]}
    assert search(creation="2026-10") == {ids["summary"]}
    newest = corpus["raw"]["new"]["created_at"]
    assert search(date=f"ge{newest}") == {
        ids["new"]
    }  # DocumentReference.date: when it was deposited
    assert search(date=f"lt{newest}") == {ids["summary"], ids["prescription"]}
    assert search(date="lt2026-01-01") == set()

    by_reference = found(
        http.get(
            "/fhir/DocumentReference",
            headers=patient,
            params={"patient": f"Patient/{fid(corpus['patient_id'])}"},
        )
    )
    assert set(by_reference) == current
    read = http.get(f"/fhir/DocumentReference/{ids['new']}", headers=patient).json()
    assert read["subject"]["reference"] == f"Patient/{fid(corpus['patient_id'])}"
    absolute = f"{system.stack.gateway_url}/fhir/Patient/{fid(corpus['patient_id'])}"
    both = http.get(
        "/fhir/DocumentReference", headers=patient, params={**by_ins, "patient": absolute}
    )
    assert set(found(both)) == current
    another = http.get(
        "/fhir/DocumentReference",
        headers=patient,
        params={"patient.identifier": f"urn:oid:1.2.3.4|{corpus['ins']}"},
    )
    assert found(another) == [] and another.json()["total"] == 0
    unknown = http.get(
        "/fhir/DocumentReference", headers=patient, params={"patient": f"Patient/pat-{'0' * 32}"}
    )
    assert unknown.status_code == 404 and OperationOutcome.model_validate(unknown.json())


def test_iti67_count_zero_counts_and_a_large_count_is_served_at_the_maximum(
    system: Running, corpus: dict[str, Any]
) -> None:
    params = {"patient.identifier": corpus["ins"]}
    counted = system.http.get(
        "/fhir/DocumentReference", params={**params, "_count": "0"}, headers=corpus["patient"]
    )
    assert found(counted) == [] and counted.json()["total"] == 3
    assert [link["relation"] for link in counted.json()["link"]] == ["self"]
    large = system.http.get(
        "/fhir/DocumentReference", params={**params, "_count": "1000"}, headers=corpus["patient"]
    )
    assert len(found(large)) == 3 and large.json()["total"] == 3
    assert large.json()["link"][0]["url"].endswith(
        "&_count=100"
    )  # served at the maximum, and says so
    paged = system.http.get(
        "/fhir/DocumentReference", params={**params, "_count": "2"}, headers=corpus["patient"]
    )
    assert len(found(paged)) == 2
    following = next(link["url"] for link in paged.json()["link"] if link["relation"] == "next")
    assert "_count=2" in following
    rest = system.http.get(
        following.removeprefix(system.stack.gateway_url), headers=corpus["patient"]
    )
    assert len(found(rest)) == 1 and not set(found(rest)) & set(found(paged))


def test_iti67_post_search_answers_as_get(system: Running, corpus: dict[str, Any]) -> None:
    params = {
        "patient.identifier": f"{INS_SYSTEM}|{corpus['ins']}",
        "category": "10,11",
        "status": "current",
    }
    by_get = system.http.get("/fhir/DocumentReference", params=params, headers=corpus["patient"])
    by_post = system.http.post(
        "/fhir/DocumentReference/_search", data=params, headers=corpus["patient"]
    )
    assert found(by_post) == found(by_get) and len(found(by_get)) == 2
    assert (
        by_post.json()["total"] == by_get.json()["total"]
        and by_post.json()["link"] == by_get.json()["link"]
    )
    not_a_form = system.http.post(
        "/fhir/DocumentReference/_search", json=params, headers=corpus["patient"]
    )
    assert not_a_form.status_code == 400 and OperationOutcome.model_validate(not_a_form.json())


def test_iti67_finds_documents_by_their_authors_registered_name(
    system: Running, corpus: dict[str, Any]
) -> None:
    """The professional's name as identity registered it (Alex Durand, tests/system.py) rides in their token,
    is kept with what they deposit, shown as the contained Practitioner's name and searched as a FHIR string."""
    http, ids, patient = system.http, corpus["ids"], corpus["patient"]
    by_ins = {"patient.identifier": f"{INS_SYSTEM}|{corpus['ins']}"}

    def search(**params: str) -> set[str]:
        answer = http.get("/fhir/DocumentReference", params={**by_ins, **params}, headers=patient)
        return set(found(answer))

    current = {ids["new"], ids["summary"], ids["prescription"]}
    read = http.get(f"/fhir/DocumentReference/{ids['summary']}", headers=patient).json()
    assert read["contained"][0]["name"] == [{"family": "Durand", "given": ["Alex"]}]
    assert search(**{"author.family": "dur"}) == current  # a prefix, case aside
    assert search(**{"author.given": "ALE", "author.family": "Durand"}) == current
    assert search(**{"author.family": "x,DURA"}) == current  # an OR
    assert search(**{"author.family": "dur", "author.given": "x"}) == set()  # an AND
    assert search(**{"author.family": "ura"}) == set()  # a prefix, not a substring
    assert search(**{"author.family:exact": "Durand"}) == current
    assert search(**{"author.family:exact": "durand"}) == set()
    assert search(**{"author.family": "dur", "status": "superseded"}) == {ids["old"]}


def test_iti67_unsupported_parameters_are_left_out_or_refused_under_strict(
    system: Running, corpus: dict[str, Any]
) -> None:
    params = {
        "patient.identifier": corpus["ins"],
        "category": "10",
        "author.family:contains": "ura",  # a string modifier not served (:exact is)
        "_sort": "-date",
    }
    lenient = system.http.get("/fhir/DocumentReference", params=params, headers=corpus["patient"])
    assert found(lenient) == [corpus["ids"]["new"]] and lenient.json()["total"] == 1
    self_link = next(link["url"] for link in lenient.json()["link"] if link["relation"] == "self")
    expected = f"{system.stack.gateway_url}/fhir/DocumentReference?patient.identifier={corpus['ins']}&category=10"
    assert self_link == expected
    warnings = [e["resource"] for e in lenient.json()["entry"] if e["search"]["mode"] == "outcome"]
    assert [issue["expression"] for issue in warnings[0]["issue"]] == [
        ["author.family:contains"],
        ["_sort"],
    ]
    strict = system.http.get(
        "/fhir/DocumentReference",
        params=params,
        headers={**corpus["patient"], "Prefer": "handling=strict"},
    )
    outcome: Any = OperationOutcome.model_validate(strict.json())
    assert strict.status_code == 400
    assert (
        "author.family:contains" in outcome.issue[0].diagnostics
        and "_sort" in outcome.issue[0].diagnostics
    )
    assert [issue.expression for issue in outcome.issue] == [["author.family:contains", "_sort"]]
    supported = system.http.get(
        "/fhir/DocumentReference",
        params={"patient.identifier": corpus["ins"], "_id": "x"},
        headers={**corpus["patient"], "Prefer": "handling=strict"},
    )
    assert supported.status_code == 200 and supported.json()["total"] == 0


def test_iti67_new_parameters_never_reach_a_hidden_document(system: Running, api: Api) -> None:
    """Masked from professionals, invisible to the patient: no parameter finds them for whom they are hidden."""
    http = system.http
    ins, patient, author = api.dossier_with_consenting_doctor("fhir-hidden@patients.dmp-test.fr")
    _, colleague = api.professional("10")
    assert http.post(f"/api/v1/patients/{ins}/consents", headers=colleague).status_code == 201
    masked = deposit(api, ins, author, PDF + b" masked")
    assert (
        http.put(
            f"/api/v1/patients/{ins}/documents/{masked['document_id']}/visibility",
            json={"masked": True},
            headers=patient,
        ).status_code
        == 200
    )
    invisible = deposit(api, ins, author, PDF + b" announce", visibility=["INVISIBLE_PATIENT"])
    for who, hidden in ((colleague, masked), (patient, invisible)):
        uuid_urn = "urn:uuid:" + hidden["document_id"].removeprefix("doc_")
        uuid_urn = (
            f"{uuid_urn[:17]}-{uuid_urn[17:21]}-{uuid_urn[21:25]}-{uuid_urn[25:29]}-{uuid_urn[29:]}"
        )
        probes = [
            {"_id": fid(hidden["document_id"])},
            {"identifier": hidden["document_id"]},
            {"identifier": f"urn:ietf:rfc:3986|{uuid_urn}"},
            {"patient": f"Patient/{fid(hidden['patient_id'])}", "_id": fid(hidden["document_id"])},
            {"status": "current,superseded,entered-in-error"},
            {"category": "10", "period": "le2026-11-20"},
            {"date": f"ge{hidden['created_at']}"},
            {"type": "http://loinc.org|11488-4"},
            {"_count": "0"},
            {"security-label": "N"},
            {"_lastUpdated": "ge2026"},
            {"isArchived": "true,false"},
        ]
        # Searching by the very label that hides it finds nothing, as for a label no document has.
        hiding = "MASQUE_PS" if hidden is masked else "INVISIBLE_PATIENT"
        for label in (
            hiding,
            f"{VISIBILITY_SYSTEM}|{hiding}",
            f"{hiding},{VISIBILITY_SYSTEM}|MASQUE_PSOCIAL",
        ):
            answer = http.get(
                "/fhir/DocumentReference",
                params={"patient.identifier": ins, "security-label": label},
                headers=who,
            )
            assert found(answer) == [] and answer.json()["total"] == 0, label
        for probe in probes:
            params = probe if "patient" in probe else {"patient.identifier": ins, **probe}
            answer = http.get("/fhir/DocumentReference", params=params, headers=who)
            assert fid(hidden["document_id"]) not in found(answer), probe
            if "_id" not in probe and "identifier" not in probe and "date" not in probe:
                assert answer.json()["total"] == 1, (
                    probe
                )  # the other document, not hidden from them
    # Each is still found by whom it is not hidden from, its label too.
    assert found(
        http.get(
            "/fhir/DocumentReference",
            headers=author,
            params={"patient.identifier": ins, "security-label": "MASQUE_PS"},
        )
    ) == [fid(masked["document_id"])]
    assert found(
        http.get(
            "/fhir/DocumentReference",
            headers=colleague,
            params={"patient.identifier": ins, "security-label": "INVISIBLE_PATIENT"},
        )
    ) == [fid(invisible["document_id"])]
    assert fid(masked["document_id"]) in found(
        http.get(
            "/fhir/DocumentReference",
            headers=author,
            params={"patient.identifier": ins, "_id": fid(masked["document_id"])},
        )
    )
    assert fid(invisible["document_id"]) in found(
        http.get(
            "/fhir/DocumentReference",
            headers=colleague,
            params={"patient.identifier": ins, "identifier": invisible["document_id"]},
        )
    )


def test_iti67_and_rest_search_return_the_same_documents_to_the_same_actor(
    system: Running, corpus: dict[str, Any], api: Api
) -> None:
    """Random parameter combinations: FHIR and REST go through the dossier's one query."""
    http, ins, raw = system.http, corpus["ins"], corpus["raw"]
    _, stranger = api.professional("21")  # a pharmacist with consent: the matrix shows them less
    assert http.post(f"/api/v1/patients/{ins}/consents", headers=stranger).status_code == 201
    documents = [raw["first"], raw["summary"], raw["prescription"], raw["new"]]
    chance = random.Random(21)
    for attempt in range(24):
        categories = chance.sample(["10", "11", "42", "43"], chance.randint(1, 3))
        types = chance.sample(["11488-4", "SYNTH", "57833-6"], chance.randint(1, 3))
        statuses = chance.sample(
            [("current", "current"), ("superseded", "replaced")], chance.randint(1, 2)
        )
        picked = chance.sample(documents, chance.randint(1, 4))
        care_from = chance.choice(["2025-01-01", "2026-10-05", "2026-11-21"])
        labels = chance.sample(["N", "R", "MASQUE_PS"], chance.randint(1, 2))
        fhir = {
            "patient.identifier": ins,
            "category": ",".join(categories),
            "type": ",".join(types),
            "status": ",".join(s for s, _ in statuses),
            "_id": ",".join(fid(d["document_id"]) for d in picked),
            "period": f"ge{care_from}",
            "security-label": ",".join(labels),
        }
        rest = {
            "category": categories,
            "type_code": types,
            "status": [s for _, s in statuses],
            "document_id": [d["document_id"] for d in picked],
            "care_ends_from": care_from,  # FHIR's ge on a Period: ends on or after, or ongoing
            "security_label": ",".join(sorted(labels)),
        }
        if (
            chance.random() < 0.5
        ):  # the new versions of the first document (one: "new"), in place of _id
            fhir["relatesto"] = f"DocumentReference/{fid(raw['first']['document_id'])}"
            rest["replaces"] = raw["first"]["document_id"]
            del fhir["_id"], rest["document_id"]
        if chance.random() < 0.5:  # changed or deposited since one of them was deposited
            since = chance.choice(documents)["created_at"]
            fhir["_lastUpdated"], rest["updated_from"] = f"ge{since}", since
        if attempt % 3 == 0:  # the coded parameters alone, nothing else narrowing what they find
            fhir = {"patient.identifier": ins, "status": "current,superseded"}
            rest = {"status": ["current", "replaced"]}
        fhir_pairs = list(fhir.items())
        rest_pairs = [
            (name, str(value))
            for name, values in rest.items()
            for value in (values if isinstance(values, list) else [values])
        ]
        for (fhir_name, rest_name), values in CODED_PROBES.items():
            if chance.random() < (0.6 if attempt % 3 == 0 else 0.4):  # an OR, sometimes repeated
                for _ in range(chance.randint(1, 2)):
                    value = ",".join(chance.sample(values, chance.randint(1, 2)))
                    fhir_pairs.append((fhir_name, value))
                    rest_pairs.append((rest_name, value))
        for who in (corpus["patient"], corpus["doctor"], stranger):
            by_fhir = set(
                found(http.get("/fhir/DocumentReference", params=tuple(fhir_pairs), headers=who))
            )
            by_rest = http.get(
                f"/api/v1/patients/{ins}/documents", params=tuple(rest_pairs), headers=who
            )
            assert by_rest.status_code == 200, by_rest.text
            assert by_fhir == {fid(d["document_id"]) for d in by_rest.json()["documents"]}, (
                attempt,
                fhir_pairs,
            )


def test_iti67_security_label_relatesto_last_updated_and_is_archived_select_what_resources_show(
    system: Running, api: Api
) -> None:
    """Each new parameter finds exactly the documents whose emitted resource carries what it names."""
    http = system.http
    ins, patient, doctor = api.dossier_with_consenting_doctor("fhir-labels@patients.dmp-test.fr")
    restricted = deposit(api, ins, doctor, PDF + b" R", confidentiality="R")
    secret = deposit(
        api, ins, doctor, PDF + b" minor", visibility=["INVISIBLE_REPRESENTANTS_LEGAUX"]
    )
    very = deposit(
        api, ins, doctor, PDF + b" V", confidentiality="V", category="11", type_code="SYNTH"
    )
    replaced = http.post(
        f"/api/v1/patients/{ins}/documents/{very['document_id']}/replacement",
        json=document(PDF + b" V2", category="11", type_code="SYNTH"),
        headers=doctor,
    )
    assert replaced.status_code == 201, replaced.text
    newer = replaced.json()
    masked = http.put(
        f"/api/v1/patients/{ins}/documents/{restricted['document_id']}/visibility",
        json={"masked": True},
        headers=patient,
    )
    assert masked.status_code == 200, masked.text
    ids = {
        name: fid(d["document_id"])
        for name, d in (
            ("restricted", restricted),
            ("secret", secret),
            ("very", very),
            ("newer", newer),
        )
    }

    def search(*pairs: tuple[str, str], who: dict[str, str] = patient) -> set[str]:
        return set(
            found(
                http.get(
                    "/fhir/DocumentReference",
                    params=[("patient.identifier", ins), *pairs],
                    headers=who,
                )
            )
        )

    def labels(fhir_id: str) -> set[tuple[str, str]]:
        read = http.get(f"/fhir/DocumentReference/{fhir_id}", headers=patient).json()
        return {
            (label["coding"][0]["system"], label["coding"][0]["code"])
            for label in read["securityLabel"]
        }

    assert (CONFIDENTIALITY, "R") in labels(ids["restricted"]) and (
        VISIBILITY_SYSTEM,
        "MASQUE_PS",
    ) in labels(ids["restricted"])
    assert search(("security-label", "R")) == {ids["restricted"]}
    assert search(("security-label", f"{CONFIDENTIALITY}|N")) == {ids["secret"], ids["newer"]}
    assert search(("security-label", "V")) == set()  # superseded: not current
    assert search(("security-label", "V"), ("status", "superseded")) == {ids["very"]}
    assert search(("security-label", "R,INVISIBLE_REPRESENTANTS_LEGAUX")) == {
        ids["restricted"],
        ids["secret"],
    }
    assert search(("security-label", "R"), ("security-label", "MASQUE_PS")) == {ids["restricted"]}
    assert search(("security-label", "N"), ("security-label", "MASQUE_PS")) == set()
    assert (
        search(("security-label", f"{VISIBILITY_SYSTEM}|R")) == set()
    )  # R is a confidentiality code
    assert search(("security-label", "http://example.org|R")) == set()
    assert search(("security-label", "MASQUE_PS"), who=doctor) == {
        ids["restricted"]
    }  # its author sees it

    read_newer = http.get(f"/fhir/DocumentReference/{ids['newer']}", headers=patient).json()
    assert read_newer["relatesTo"][0]["target"]["reference"] == f"DocumentReference/{ids['very']}"
    assert search(("relatesto", f"DocumentReference/{ids['very']}")) == {ids["newer"]}
    assert search(
        ("relatesto", f"{system.stack.gateway_url}/fhir/DocumentReference/{ids['very']}")
    ) == {ids["newer"]}
    assert search(("relatesto", f"DocumentReference/{ids['newer']}")) == set()
    assert search(("relatesto", "DocumentReference/unknown")) == set()
    wrong = http.get(
        "/fhir/DocumentReference",
        params={"patient.identifier": ins, "relatesto": "Patient/x"},
        headers=patient,
    )
    assert wrong.status_code == 400 and OperationOutcome.model_validate(wrong.json()).issue[
        0
    ].expression == ["relatesto"]

    # Masked last: its meta.lastUpdated (and Last-Modified) is after every other's.
    last = http.get(f"/fhir/DocumentReference/{ids['restricted']}", headers=patient)
    changed = last.json()["meta"]["lastUpdated"]
    assert changed > read_newer["meta"]["lastUpdated"]
    assert search(("_lastUpdated", f"ge{changed}")) == {ids["restricted"]}
    assert search(("_lastUpdated", f"lt{changed}")) == {ids["secret"], ids["newer"]}
    assert search(("_lastUpdated", f"ge{newer['created_at']}")) == {ids["restricted"], ids["newer"]}
    assert search(("_lastUpdated", "lt2026-01-01")) == set()
    bad = http.get(
        "/fhir/DocumentReference",
        params={"patient.identifier": ins, "_lastUpdated": "ge2026-11-20T10:00"},
        headers=patient,
    )
    assert bad.status_code == 400 and OperationOutcome.model_validate(bad.json()).issue[
        0
    ].expression == ["_lastUpdated"]

    # PDSm's isArchived: an archived document stays current, and is found only when asked for.
    archived = http.post(
        f"/api/v1/patients/{ins}/documents/{secret['document_id']}/archive", headers=doctor
    )
    assert archived.status_code == 200, archived.text
    shown = http.get(f"/fhir/DocumentReference/{ids['secret']}", headers=patient).json()
    DocumentReference.model_validate(shown)
    assert shown["status"] == "current" and shown["extension"] == [
        {"url": IS_ARCHIVED, "valueBoolean": True}
    ]
    assert search() == {ids["restricted"], ids["newer"]}
    assert search(("isArchived", "true")) == {ids["secret"]}
    assert search(("isArchived", "false")) == {ids["restricted"], ids["newer"]}
    assert search(("isArchived", "true,false"), ("status", "current,superseded")) == set(
        ids.values()
    )
    assert search(("isArchived", "true"), ("security-label", "INVISIBLE_REPRESENTANTS_LEGAUX")) == {
        ids["secret"]
    }


def test_unknown_and_malformed_ids_answer_404_and_401_names_bearer(
    system: Running, api: Api
) -> None:
    _, doctor = api.professional("10")
    for path in (
        "/fhir/DocumentReference/unknown-id",
        "/fhir/DocumentReference/doc-00000000000000000000000000000000",
        "/fhir/Binary/unknown-id",
        "/fhir/DocumentReference/doc_0",
    ):
        answer = system.http.get(path, headers=doctor)
        assert answer.status_code == 404, (path, answer.text)
        assert OperationOutcome.model_validate(answer.json())
    unauthenticated = system.http.get("/fhir/DocumentReference", params={"patient.identifier": "x"})
    assert (
        unauthenticated.status_code == 401
        and unauthenticated.headers["WWW-Authenticate"] == "Bearer"
    )
    assert OperationOutcome.model_validate(unauthenticated.json())


def provide(ins: str, *documents: dict[str, Any], submission_set: bool = True) -> dict[str, Any]:
    entries = (
        [
            {
                "fullUrl": "urn:uuid:5b0e8f7a-0000-4000-8000-000000000000",
                "resource": SUBMISSION_SET,
                "request": {"method": "POST", "url": "List"},
            }
        ]
        if submission_set
        else []
    )
    for number, resource in enumerate(documents, start=1):
        master = {
            "masterIdentifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{uuid.uuid4()}"}
        }
        entries.append(
            {
                "fullUrl": f"urn:uuid:5b0e8f7a-0000-4000-8000-00000000000{number}",
                "resource": {**master, **resource},
                "request": {"method": "POST", "url": "DocumentReference"},
            }
        )
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def test_iti65_is_all_or_nothing(system: Running, api: Api) -> None:
    """A bad second DocumentReference stores nothing, whether the facade or the dossier finds it bad."""
    http = system.http
    ins, patient, doctor = api.dossier_with_consenting_doctor("fhir-atomic@patients.dmp-test.fr")
    good = reference(ins, content=PDF + b" first")
    not_a_pdf = reference(ins, content=b"plain text, not a PDF")
    no_type = {
        key: value
        for key, value in reference(ins, content=PDF + b" second").items()
        if key != "type"
    }
    ends_before = reference(ins, content=PDF + b" second")
    ends_before["context"] = {"period": {"start": "2026-11-20", "end": "2026-11-19"}}
    without_master = provide(ins, good, reference(ins, content=PDF + b" third"))
    del without_master["entry"][2]["resource"]["masterIdentifier"]
    for bundle, element in (
        (provide(ins, good, not_a_pdf), "content[0].attachment.data"),
        (provide(ins, good, no_type), "type"),
        (provide(ins, good, ends_before), "context.period.end"),  # the dossier's validation
        (without_master, "masterIdentifier"),
    ):
        refused = http.post("/fhir", json=bundle, headers=doctor)
        outcome: Any = OperationOutcome.model_validate(refused.json())
        assert refused.status_code == 422, refused.text
        assert outcome.issue[0].expression == [f"Bundle.entry[2].resource.{element}"], refused.text
    listed = http.get(
        "/fhir/DocumentReference", params={"patient.identifier": ins}, headers=patient
    )
    assert listed.json()["total"] == 0
    same = {"system": "urn:ietf:rfc:3986", "value": "urn:oid:1.2.250.1.999.65.1"}
    for second, element in (
        (
            reference(ins, content=PDF + b" first", masterIdentifier=same),
            "content[0].attachment.data",
        ),
        (reference(ins, content=PDF + b" other", masterIdentifier=same), "masterIdentifier"),
    ):
        twice = http.post(
            "/fhir", json=provide(ins, {**good, "masterIdentifier": same}, second), headers=doctor
        )
        assert twice.status_code == 422 and OperationOutcome.model_validate(twice.json())
        assert twice.json()["issue"][0]["expression"] == [f"Bundle.entry[2].resource.{element}"], (
            twice.text
        )
    both = http.post(
        "/fhir", json=provide(ins, good, reference(ins, content=PDF + b" second")), headers=doctor
    )
    assert both.status_code == 200, both.text
    assert (
        http.get(
            "/fhir/DocumentReference", params={"patient.identifier": ins}, headers=patient
        ).json()["total"]
        == 2
    )


def test_iti65_needs_its_submission_set(system: Running, api: Api) -> None:
    ins, _, doctor = api.dossier_with_consenting_doctor("fhir-submission-set@patients.dmp-test.fr")
    without = system.http.post(
        "/fhir",
        json=provide(ins, reference(ins, content=PDF), submission_set=False),
        headers=doctor,
    )
    outcome: Any = OperationOutcome.model_validate(without.json())
    assert without.status_code == 422 and outcome.issue[0].expression == ["Bundle.entry"]
    assert "SubmissionSet" in outcome.issue[0].diagnostics
    bundle = provide(ins, reference(ins, content=PDF))
    bundle["entry"].append(
        {
            "fullUrl": "urn:uuid:5b0e8f7a-0000-4000-8000-0000000000ff",
            "request": {"method": "POST", "url": "Patient"},
            "resource": {"resourceType": "Patient"},
        }
    )
    with_patient = system.http.post("/fhir", json=bundle, headers=doctor)
    assert with_patient.status_code == 422
    assert OperationOutcome.model_validate(with_patient.json()).issue[0].expression == [
        "Bundle.entry[2]"
    ]


def test_versions_etag_and_last_modified(system: Running, api: Api) -> None:
    """meta.versionId is the revision of the metadata: 1 at deposit, one more at each change (masking here)."""
    http = system.http
    ins, patient, doctor = api.dossier_with_consenting_doctor("fhir-versions@patients.dmp-test.fr")
    created = http.post("/fhir/DocumentReference", json=reference(ins, content=PDF), headers=doctor)
    assert created.status_code == 201, created.text
    resource = created.json()
    assert resource["meta"]["versionId"] == "1" and created.headers["ETag"] == 'W/"1"'
    location = created.headers["Location"].removeprefix(system.stack.gateway_url)
    assert location == f"/fhir/DocumentReference/{resource['id']}/_history/1"
    assert http.get(location, headers=doctor).json() == resource
    read = http.get(f"/fhir/DocumentReference/{resource['id']}", headers=patient)
    assert read.headers["ETag"] == 'W/"1"' and read.headers["Last-Modified"].endswith(" GMT")
    assert parsedate_to_datetime(read.headers["Last-Modified"]).replace(
        microsecond=0
    ) == datetime.fromisoformat(resource["meta"]["lastUpdated"].replace("Z", "+00:00")).replace(
        microsecond=0
    )

    masked = http.put(
        f"/api/v1/patients/{ins}/documents/{resource['id'].replace('-', '_', 1)}/visibility",
        json={"masked": True},
        headers=patient,
    )
    assert masked.status_code == 200, masked.text
    again = http.get(f"/fhir/DocumentReference/{resource['id']}", headers=patient)
    assert again.json()["meta"]["versionId"] == "2" and again.headers["ETag"] == 'W/"2"'
    assert again.json()["meta"]["lastUpdated"] > resource["meta"]["lastUpdated"]
    DocumentReference.model_validate(again.json())
    old = http.get(f"/fhir/DocumentReference/{resource['id']}/_history/1", headers=patient)
    assert old.status_code == 404 and OperationOutcome.model_validate(old.json())
    assert (
        http.get(
            f"/fhir/DocumentReference/{resource['id']}/_history/2", headers=patient
        ).status_code
        == 200
    )

    provided = http.post(
        "/fhir", json=provide(ins, reference(ins, content=PDF + b" set")), headers=doctor
    ).json()
    response = provided["entry"][1]["response"]
    assert (
        response["location"].endswith("/_history/1")
        and response["etag"] == 'W/"1"'
        and response["lastModified"]
    )


def test_no_ins_in_any_span_of_a_fhir_search(system: Running, corpus: dict[str, Any]) -> None:
    """ITI-67 names the patient in the query string (patient.identifier): spans keep the parameter, not the INS."""
    ins = corpus["ins"]
    for params in (
        {"patient.identifier": f"{INS_SYSTEM}|{ins}", "category": "10"},
        {"patient.identifier": ins},
    ):
        assert (
            system.http.get(
                "/fhir/DocumentReference", params=params, headers=corpus["patient"]
            ).status_code
            == 200
        )

    def searches() -> list[Any]:  # the gateway's server spans of these two requests
        return [
            s
            for s in system.collector.snapshot()
            if s.service == "dmp-gateway"
            and "patient.identifier" in " ".join(s.attributes.values())
        ]

    assert eventually(lambda: len(searches()) >= 2, seconds=30)
    for span in system.collector.snapshot():
        for value in [span.name, *span.attributes.values()]:
            assert ins not in value, span


def test_the_source_master_identifier_is_kept_found_and_used_once(
    system: Running, api: Api
) -> None:
    """Vendors find (and replace) their documents by the unique id they gave them."""
    http = system.http
    ins, patient, doctor = api.dossier_with_consenting_doctor("fhir-master@patients.dmp-test.fr")
    master = {"system": "urn:ietf:rfc:3986", "value": "urn:oid:1.2.250.1.999.7.1.42"}
    created = http.post(
        "/fhir/DocumentReference",
        json=reference(ins, content=PDF, masterIdentifier=master),
        headers=doctor,
    )
    assert created.status_code == 201, created.text
    assert created.json()["masterIdentifier"] == master
    plain = http.post(
        "/fhir/DocumentReference", json=reference(ins, content=PDF + b" plain"), headers=doctor
    ).json()
    assert plain["masterIdentifier"]["system"] == "urn:ietf:rfc:3986"
    assert plain["masterIdentifier"]["value"].replace("-", "") == "urn:uuid:" + plain[
        "id"
    ].removeprefix("doc-")
    DocumentReference.model_validate(plain)

    def search(identifier: str) -> list[str]:
        return found(
            http.get(
                "/fhir/DocumentReference",
                params={"patient.identifier": ins, "identifier": identifier},
                headers=patient,
            )
        )

    assert search(f"urn:ietf:rfc:3986|{master['value']}") == [created.json()["id"]]
    assert search(master["value"]) == [created.json()["id"]]
    assert search(f"urn:ietf:rfc:3986|{plain['masterIdentifier']['value']}") == [plain["id"]]
    assert search(f"urn:dmp:document|{plain['identifier'][0]['value']}") == [plain["id"]]
    assert search(
        f"urn:ietf:rfc:3986|{master['value']},urn:dmp:document|{plain['identifier'][0]['value']}"
    ) == [plain["id"], created.json()["id"]]
    again = http.post(
        "/fhir/DocumentReference",
        json=reference(ins, content=PDF + b" v2", masterIdentifier=master),
        headers=doctor,
    )
    assert again.status_code == 409 and OperationOutcome.model_validate(again.json())
    wrong = http.post(
        "/fhir/DocumentReference",
        headers=doctor,
        json=reference(ins, content=PDF + b" v3", masterIdentifier={"value": "42"}),
    )
    assert wrong.status_code == 422 and wrong.json()["issue"][0]["expression"] == [
        "masterIdentifier"
    ]


def test_iti68_negotiates_the_content_and_refuses_what_it_cannot_serve(
    system: Running, api: Api
) -> None:
    http = system.http
    ins, patient, doctor = api.dossier_with_consenting_doctor("fhir-binary@patients.dmp-test.fr")
    created = http.post(
        "/fhir/DocumentReference", json=reference(ins, content=PDF), headers=doctor
    ).json()
    path = f"/fhir/Binary/{created['id']}"

    def get(accept: str | None = None, **params: str) -> Any:
        return http.get(
            path, params=params, headers={**patient, **({"Accept": accept} if accept else {})}
        )

    for accept in (
        None,
        "*/*",
        "application/pdf",
        "application/*",
        "image/png, application/pdf;q=0.2",
    ):
        raw = get(accept)
        assert raw.status_code == 200 and raw.content == PDF, accept
    for accept, params in (
        ("image/png, application/fhir+json;q=0.1", {}),
        ("application/fhir+json", {}),
        ("application/pdf", {"_format": "json"}),
    ):
        resource = get(accept, **params)
        assert resource.headers["content-type"].startswith("application/fhir+json"), accept
        assert base64.b64decode(resource.json()["data"]) == PDF
    as_xml = get(None, _format="xml")  # a Binary in FHIR XML (services/gateway/fhir_xml.py)
    assert (
        as_xml.headers["content-type"].startswith("application/fhir+xml")
        and b"<Binary" in as_xml.content
    )
    for accept, params, status in (
        ("image/png", {}, 406),
        ("*/*;q=0", {}, 406),
        (None, {"_format": "csv"}, 400),
    ):
        refused = get(accept, **params)
        outcome: Any = OperationOutcome.model_validate(refused.json())
        assert refused.status_code == status and outcome.issue[0].expression, (
            accept,
            params,
            refused.text,
        )
    unknown = http.get(f"/fhir/Binary/doc-{'0' * 32}", headers={**patient, "Accept": "image/png"})
    assert unknown.status_code == 404  # like any unknown id, whatever is asked of it


def test_relates_to_replaces_supersedes_the_old_version_in_create_and_transaction(
    system: Running, api: Api
) -> None:
    http = system.http
    ins, patient, doctor = api.dossier_with_consenting_doctor("fhir-replace@patients.dmp-test.fr")
    first = http.post(
        "/fhir/DocumentReference", json=reference(ins, content=PDF), headers=doctor
    ).json()

    def replacing(old: str, content: bytes) -> dict[str, Any]:
        return reference(
            ins,
            content=content,
            relatesTo=[{"code": "replaces", "target": {"reference": f"DocumentReference/{old}"}}],
        )

    second = http.post(
        "/fhir/DocumentReference", json=replacing(first["id"], PDF + b" v2"), headers=doctor
    )
    assert second.status_code == 201, second.text
    assert (
        second.json()["relatesTo"][0]["target"]["reference"] == f"DocumentReference/{first['id']}"
    )
    old = http.get(f"/fhir/DocumentReference/{first['id']}", headers=patient).json()
    assert old["status"] == "superseded" and old["meta"]["versionId"] == "2"

    refused = http.post(
        "/fhir",
        json=provide(
            ins, replacing(second.json()["id"], PDF + b" v3"), reference(ins, content=b"not a pdf")
        ),
        headers=doctor,
    )
    assert refused.status_code == 422  # the second is bad: the first replaces nothing
    assert (
        http.get(f"/fhir/DocumentReference/{second.json()['id']}", headers=patient).json()["status"]
        == "current"
    )
    provided = http.post(
        "/fhir", json=provide(ins, replacing(second.json()["id"], PDF + b" v3")), headers=doctor
    )
    assert provided.status_code == 200, provided.text
    assert (
        http.get(f"/fhir/DocumentReference/{second.json()['id']}", headers=patient).json()["status"]
        == "superseded"
    )
    current = found(
        http.get("/fhir/DocumentReference", params={"patient.identifier": ins}, headers=patient)
    )
    assert current == [provided.json()["entry"][1]["response"]["location"].split("/")[1]]

    unknown = http.post(
        "/fhir/DocumentReference", json=replacing(f"doc-{'0' * 32}", PDF + b" v4"), headers=doctor
    )
    assert unknown.status_code == 404 and OperationOutcome.model_validate(unknown.json())
    appends = reference(
        ins,
        content=PDF + b" v5",
        relatesTo=[
            {"code": "appends", "target": {"reference": f"DocumentReference/{first['id']}"}}
        ],
    )
    refused_relation = http.post("/fhir/DocumentReference", json=appends, headers=doctor)
    assert refused_relation.status_code == 422 and refused_relation.json()["issue"][0][
        "expression"
    ] == ["relatesTo"]


def test_iti65_submitted_metadata_comes_back_as_sent_from_iti67_and_read(
    system: Running, api: Api
) -> None:
    """masterIdentifier, confidentiality, end of care, format code, facility type, practice setting, events and
    related identifiers: what a vendor submits is what it finds and reads."""
    http = system.http
    ins, patient, doctor = api.dossier_with_consenting_doctor("fhir-metadata@patients.dmp-test.fr")
    snomed = "http://snomed.info/sct"
    master = {"system": "urn:ietf:rfc:3986", "value": "urn:oid:1.2.250.1.999.65.7"}
    context = {
        "period": {"start": "2026-11-20", "end": "2026-11-22T18:30:00+01:00"},
        "facilityType": {"coding": [{"system": snomed, "code": "22232009", "display": "Hospital"}]},
        "practiceSetting": {
            "coding": [{"system": snomed, "code": "394802001", "display": "General medicine"}]
        },
        "event": [
            {
                "coding": [{"system": snomed, "code": "38341003", "display": "Hypertension"}],
                "text": "HTA",
            }
        ],
        "related": [{"identifier": {"system": "urn:oid:1.2.250.1.999.3", "value": "ACC-2026-42"}}],
    }
    format_code = {
        "system": "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode",
        "code": "urn:ihe:iti:xds:2017:mimeTypeSufficient",
        "display": "mimeType Sufficient",
    }
    sent = reference(
        ins,
        content=PDF + b" metadata",
        masterIdentifier=master,
        context=context,
        securityLabel=[{"coding": [{"system": CONFIDENTIALITY, "code": "R"}]}],
    )
    sent["content"][0]["format"] = format_code
    provided = http.post("/fhir", json=provide(ins, sent), headers=doctor)
    assert provided.status_code == 200, provided.text
    Bundle.model_validate(provided.json())
    fhir_id = provided.json()["entry"][1]["response"]["location"].split("/")[1]

    by_master = http.get(
        "/fhir/DocumentReference",
        headers=patient,
        params={"patient.identifier": ins, "identifier": f"urn:ietf:rfc:3986|{master['value']}"},
    )
    assert by_master.status_code == 200, by_master.text
    Bundle.model_validate(by_master.json())
    assert [entry["resource"]["id"] for entry in by_master.json()["entry"]] == [fhir_id]
    read = http.get(f"/fhir/DocumentReference/{fhir_id}", headers=patient)
    for shown in (by_master.json()["entry"][0]["resource"], read.json()):
        DocumentReference.model_validate(shown)
        assert shown["masterIdentifier"] == master
        assert shown["context"] == context
        assert shown["content"][0]["format"] == format_code
        assert [
            c["code"]
            for label in shown["securityLabel"]
            for c in label["coding"]
            if c["system"] == CONFIDENTIALITY
        ] == ["R"]


def test_iti65_pdsm4dmp_example_bundle_is_provided_and_found_as_sent(
    system: Running, api: Api
) -> None:
    """ANS's PDSm4DMP ITI-65 example as a vendor's software sends it (its patient ours, its CDA as text/xml, the
    format the dossier takes): the patient by conditional reference, its codes kept."""
    http = system.http
    ins, patient, doctor, rpps = dossier_with_doctor(api, "fhir-pdsm4dmp@patients.dmp-test.fr")
    text = (
        PDSM4DMP_EXAMPLE.read_text()
        .replace("123456789012345", ins)
        .replace(EXAMPLE_RPPS, rpps)  # its author, as IdNat_PS: the professional depositing it
        .replace('"application/xml"', '"text/xml"')
    )
    bundle = json.loads(text)
    bundle["entry"][2]["resource"]["data"] = base64.b64encode(
        CDA_LEVEL_1
    ).decode()  # its CDA has no body
    attachment = bundle["entry"][1]["resource"]["content"][0]["attachment"]
    stale = http.post(
        "/fhir", json=bundle, headers=doctor
    )  # its size and hash describe the example's bytes
    assert stale.status_code == 422 and stale.json()["issue"][0]["expression"] == [
        "Bundle.entry[1].resource.content[0].attachment.size"
    ], stale.text
    sha1 = hashlib.sha1(CDA_LEVEL_1, usedforsecurity=False).digest()
    attachment.update(size=len(CDA_LEVEL_1), hash=base64.b64encode(sha1).decode())
    provided = http.post(
        "/fhir", json=bundle, headers={**doctor, "Content-Type": "application/fhir+json"}
    )
    assert provided.status_code == 200, provided.text
    Bundle.model_validate(provided.json())
    assert [entry["response"]["status"] for entry in provided.json()["entry"]] == [
        "201 Created"
    ] * 3
    sent = bundle["entry"][1]["resource"]
    fhir_id = provided.json()["entry"][1]["response"]["location"].split("/")[1]
    shown = http.get(f"/fhir/DocumentReference/{fhir_id}", headers=patient).json()
    DocumentReference.model_validate(shown)
    assert shown["masterIdentifier"] == sent["masterIdentifier"]
    for element in ("facilityType", "practiceSetting", "period"):
        assert shown["context"][element] == sent["context"][element], element
    assert shown["content"][0]["format"] == sent["content"][0]["format"]


def test_iti65_pdsm4dmp_replacement_example_supersedes_the_old_document(
    system: Running, api: Api
) -> None:
    """ANS's PDSm4DMP replacement Bundle, with its PATCH of the old DocumentReference to superseded, as a vendor's
    software sends it (its patient and replaced document ours, its CDA a valid one)."""
    http = system.http
    ins, patient, doctor, rpps = dossier_with_doctor(
        api, "fhir-pdsm4dmp-replace@patients.dmp-test.fr"
    )
    first = http.post("/fhir", json=provide(ins, reference(ins, content=PDF)), headers=doctor)
    assert first.status_code == 200, first.text
    old = first.json()["entry"][1]["response"]["location"].split("/")[1]
    text = (
        PDSM4DMP_REPLACEMENT.read_text()
        .replace("123456789012345", ins)
        .replace("doc-x-id", old)
        .replace(EXAMPLE_RPPS, rpps)
    )
    bundle = json.loads(text.replace('"application/xml"', '"text/xml"'))
    binary = next(
        entry["resource"]
        for entry in bundle["entry"]
        if entry["resource"]["resourceType"] == "Binary"
    )
    binary["data"] = base64.b64encode(CDA_LEVEL_1).decode()
    attachment = bundle["entry"][1]["resource"]["content"][0]["attachment"]
    sha1 = hashlib.sha1(CDA_LEVEL_1, usedforsecurity=False).digest()
    attachment.update(size=len(CDA_LEVEL_1), hash=base64.b64encode(sha1).decode())
    replaced = http.post("/fhir", json=bundle, headers=doctor)
    assert replaced.status_code == 200, replaced.text
    Bundle.model_validate(replaced.json())
    statuses = [entry["response"]["status"] for entry in replaced.json()["entry"]]
    assert statuses == [
        "201 Created",
        "201 Created",
        "200 OK",
        "201 Created",
    ]  # List, new, PATCH of old, Binary
    new = replaced.json()["entry"][1]["response"]["location"].split("/")[1]
    assert (
        http.get(f"/fhir/DocumentReference/{old}", headers=patient).json()["status"] == "superseded"
    )
    shown = http.get(f"/fhir/DocumentReference/{new}", headers=patient).json()
    assert shown["status"] == "current"
    assert shown["relatesTo"] == [
        {"code": "replaces", "target": {"reference": f"DocumentReference/{old}"}}
    ]


def test_a_vendor_checks_the_patients_identity_by_ins_and_traits_before_depositing(
    system: Running, api: Api
) -> None:
    """Patient?identifier=<INS>&family=&birthdate=: the patient when the traits match; an empty Bundle, the same as
    for an INS nobody holds, when they do not; an INS alone is refused; a patient's token may not look anyone up."""
    from fhir.resources.R4B.patient import Patient

    from tests.identities import make_ins, registration

    http = system.http
    details = registration()
    assert http.post("/api/v1/patients", json=details).status_code == 201
    _, doctor = api.professional()
    traits = {
        "identifier": f"{INS_SYSTEM}|{details['ins']}",
        "family": "MARTÍN",
        "birthdate": details["birth_date"],
    }

    by_get = http.get("/fhir/Patient", params=traits, headers=doctor)
    assert by_get.status_code == 200, by_get.text
    Bundle.model_validate(by_get.json())
    (entry,) = by_get.json()["entry"]
    Patient.model_validate(entry["resource"])
    assert entry["resource"]["identifier"][0]["value"] == details["ins"]
    assert entry["resource"]["name"][0] == {
        "use": "official",
        "family": "Martin",
        "given": ["Camille"],
    }
    assert (
        entry["resource"]["birthDate"] == details["birth_date"]
        and entry["resource"]["gender"] == "female"
    )
    by_post = http.post(
        "/fhir/Patient/_search",
        data=traits,
        headers={**doctor, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert by_post.status_code == 200 and by_post.json()["entry"] == by_get.json()["entry"]

    def none_for(changed: dict[str, str]) -> dict[str, Any]:
        response = http.get("/fhir/Patient", params={**traits, **changed}, headers=doctor)
        assert response.status_code == 200, response.text
        bundle: dict[str, Any] = response.json()
        assert bundle["total"] == 0 and not bundle.get("entry")
        return bundle

    none_for({"family": "Durand"})
    none_for({"birthdate": "1980-01-16"})
    none_for({"identifier": f"{INS_SYSTEM}|{make_ins()}"})  # nobody's INS: answered the same

    alone = http.get("/fhir/Patient", params={"identifier": traits["identifier"]}, headers=doctor)
    assert alone.status_code == 400
    OperationOutcome.model_validate(alone.json())
    assert alone.json()["issue"][0]["expression"] == ["family", "birthdate"]
    malformed = http.get(
        "/fhir/Patient", params={**traits, "identifier": f"{INS_SYSTEM}|12345"}, headers=doctor
    )
    assert malformed.status_code == 422 and malformed.json()["issue"][0]["expression"] == [
        "identifier"
    ]

    _, patient = api.patient(f"{uuid.uuid4().hex[:10]}@patients.dmp-test.fr")
    assert http.get("/fhir/Patient", params=traits, headers=patient).status_code == 403
    assert http.get("/fhir/Patient", params=traits).status_code == 401


def test_a_vendor_speaking_fhir_xml_provides_finds_reads_and_retrieves(
    system: Running, api: Api
) -> None:
    """MHD actors support both encodings: the same transaction, search, read and retrieve in XML, and XML
    OperationOutcomes; XML with a DTD is refused unread."""
    from services.gateway.fhir_xml import FHIR_XML, from_xml, to_xml

    http = system.http
    ins, patient, doctor = api.dossier_with_consenting_doctor(
        f"fhir-xml-{uuid.uuid4().hex[:6]}@patients.dmp-test.fr"
    )
    xml = {**doctor, "Content-Type": FHIR_XML, "Accept": FHIR_XML}

    metadata = http.get("/fhir/metadata", params={"_format": "xml"})
    assert metadata.headers["content-type"].startswith(FHIR_XML)
    assert "application/fhir+xml" in from_xml(metadata.content)["format"]

    provided = http.post(
        "/fhir", content=to_xml(provide(ins, reference(ins, content=PDF + b" xml"))), headers=xml
    )
    assert provided.status_code == 200, provided.text
    answer = from_xml(provided.content)
    assert answer["type"] == "transaction-response" and len(answer["entry"]) == 2
    location = answer["entry"][1]["response"]["location"]
    fhir_id = location.split("/")[1]

    found = http.get(
        "/fhir/DocumentReference", params={"patient.identifier": f"{INS_SYSTEM}|{ins}"}, headers=xml
    )
    assert found.headers["content-type"].startswith(FHIR_XML)
    bundle = from_xml(found.content)
    Bundle.model_validate(bundle)
    assert [entry["resource"]["id"] for entry in bundle["entry"]] == [fhir_id]

    read = http.get(f"/fhir/DocumentReference/{fhir_id}", headers={**patient, "Accept": FHIR_XML})
    assert (
        from_xml(read.content)
        == http.get(f"/fhir/DocumentReference/{fhir_id}", headers=patient).json()
    )
    binary = from_xml(
        http.get(f"/fhir/Binary/{fhir_id}", params={"_format": "xml"}, headers=patient).content
    )
    assert base64.b64decode(binary["data"]) == PDF + b" xml"
    raw = http.get(f"/fhir/Binary/{fhir_id}", headers={**patient, "Accept": "application/pdf"})
    assert raw.content == PDF + b" xml"

    missing = http.get("/fhir/DocumentReference/doc-0000", headers=xml)
    assert (
        missing.status_code == 404
        and from_xml(missing.content)["resourceType"] == "OperationOutcome"
    )
    hostile = b'<?xml version="1.0"?><!DOCTYPE b [<!ENTITY x SYSTEM "file:///etc/passwd">]><Bundle xmlns="http://hl7.org/fhir"/>'
    refused = http.post("/fhir", content=hostile, headers=xml)
    assert (
        refused.status_code == 400 and "DTD" in from_xml(refused.content)["issue"][0]["diagnostics"]
    )


def test_pdsm4dmp_patch_masks_and_archives_under_the_dossiers_rules(
    system: Running, api: Api
) -> None:
    """The patient masks and unmasks, the author archives and unarchives, by FHIRPath Patch; another professional
    may not mask; a PATCH of anything else changes nothing."""
    from tests.gateway.test_fhir_patch import archive, mask, unmask

    http = system.http
    ins, patient, author = api.dossier_with_consenting_doctor(
        f"fhir-patch-{uuid.uuid4().hex[:6]}@patients.dmp-test.fr"
    )
    _, colleague = api.professional()
    assert http.post(f"/api/v1/patients/{ins}/consents", headers=colleague).status_code == 201
    created = http.post(
        "/fhir/DocumentReference", json=reference(ins, content=PDF + b" patch"), headers=author
    )
    path = f"/fhir/DocumentReference/{created.json()['id']}"
    fhir = {"Content-Type": "application/fhir+json"}

    def labels(resource: dict[str, Any]) -> set[str]:
        return {
            coding["code"]
            for label in resource.get("securityLabel", [])
            for coding in label["coding"]
        }

    refused = http.patch(path, json=mask(), headers={**colleague, **fhir})
    assert refused.status_code == 403, refused.text
    masked = http.patch(path, json=mask(), headers={**patient, **fhir})
    assert masked.status_code == 200, masked.text
    DocumentReference.model_validate(masked.json())
    assert "MASQUE_PS" in labels(masked.json()) and masked.json()["meta"]["versionId"] == "2"
    assert masked.headers["etag"] == 'W/"2"'
    assert (
        http.get(path, headers=colleague).status_code == 404
    )  # masked from professionals but its author
    assert "MASQUE_PS" in labels(http.get(path, headers=author).json())
    assert http.patch(path, json=unmask(), headers={**patient, **fhir}).status_code == 200
    assert http.get(path, headers=colleague).status_code == 200

    archived = http.patch(path, json=archive(True), headers={**author, **fhir})
    assert archived.status_code == 200, archived.text
    assert archived.json()["extension"] == [{"url": IS_ARCHIVED, "valueBoolean": True}]
    search = {"patient.identifier": f"{INS_SYSTEM}|{ins}"}
    assert http.get("/fhir/DocumentReference", params=search, headers=author).json()["total"] == 0
    assert (
        http.get(
            "/fhir/DocumentReference", params={**search, "isArchived": "true"}, headers=author
        ).json()["total"]
        == 1
    )
    assert (
        http.patch(path, json=archive(True), headers={**author, **fhir}).status_code == 409
    )  # already
    assert http.patch(path, json=archive(False), headers={**patient, **fhir}).status_code == 200

    status = {
        "resourceType": "Parameters",
        "parameter": [
            {
                "name": "operation",
                "part": [
                    {"name": "type", "valueCode": "replace"},
                    {"name": "path", "valueString": "DocumentReference.status"},
                    {"name": "value", "valueCode": "entered-in-error"},
                ],
            }
        ],
    }
    other = http.patch(path, json=status, headers={**author, **fhir})
    assert other.status_code == 422 and other.json()["issue"][0]["expression"] == [
        "parameter[0].part[path]"
    ]
    assert http.get(path, headers=author).json()["status"] == "current"
    assert (
        http.patch(
            f"/fhir/DocumentReference/doc-{'0' * 32}", json=mask(), headers={**patient, **fhir}
        ).status_code
        == 404
    )


def test_conditional_reads_answer_304_and_a_stale_if_match_changes_nothing(
    system: Running, api: Api
) -> None:
    """If-None-Match / If-Modified-Since on read: 304 without a body for the version held; If-Match on PATCH:
    412 and nothing changed when the version is not the current one; hidden documents stay 404."""
    http = system.http
    ins, patient, doctor = api.dossier_with_consenting_doctor(
        "fhir-conditional@patients.dmp-test.fr"
    )
    created = http.post("/fhir/DocumentReference", json=reference(ins, content=PDF), headers=doctor)
    assert created.status_code == 201, created.text
    path = f"/fhir/DocumentReference/{created.json()['id']}"
    read = http.get(path, headers=doctor)
    held = {"If-None-Match": read.headers["ETag"]}
    cached = http.get(path, headers={**doctor, **held})
    assert cached.status_code == 304 and cached.content == b""
    assert cached.headers["ETag"] == 'W/"1"'
    since = {"If-Modified-Since": read.headers["Last-Modified"]}
    assert http.get(path, headers={**doctor, **since}).status_code == 304
    assert http.get(path, headers={**doctor, "If-None-Match": 'W/"9"'}).status_code == 200
    binary = f"/fhir/Binary/{created.json()['id']}"
    content = http.get(binary, headers={**doctor, "Accept": "application/pdf"})
    assert content.content == PDF and content.headers["ETag"] == 'W/"1"'
    not_again = http.get(
        binary, headers={**doctor, "Accept": "application/pdf", "If-None-Match": 'W/"1"'}
    )
    assert not_again.status_code == 304 and not_again.content == b""

    mask = {
        "resourceType": "Parameters",
        "parameter": [
            {
                "name": "operation",
                "part": [
                    {"name": "type", "valueCode": "add"},
                    {"name": "path", "valueString": "DocumentReference"},
                    {"name": "name", "valueString": "securityLabel"},
                    {
                        "name": "value",
                        "valueCodeableConcept": {
                            "coding": [{"system": VISIBILITY_SYSTEM, "code": "MASQUE_PS"}]
                        },
                    },
                ],
            }
        ],
    }
    malformed = http.patch(path, json=mask, headers={**patient, "If-Match": "1"})
    assert malformed.status_code == 400, malformed.text
    assert malformed.json()["issue"][0]["expression"] == ["If-Match"]
    masked = http.patch(path, json=mask, headers={**patient, "If-Match": 'W/"1"'})
    assert masked.status_code == 200 and masked.headers["ETag"] == 'W/"2"', masked.text
    unmask = copy_with_path(mask)
    stale = http.patch(path, json=unmask, headers={**patient, "If-Match": 'W/"1"'})
    assert stale.status_code == 412, stale.text
    OperationOutcome.model_validate(stale.json())
    after = http.get(path, headers=patient)
    assert after.json()["meta"]["versionId"] == "2" and "MASQUE_PS" in {
        label["coding"][0]["code"] for label in after.json()["securityLabel"]
    }  # still masked: nothing changed
    assert http.get(path, headers={**patient, **held}).status_code == 200  # version 1 is gone

    _, colleague = api.professional("10")
    assert http.post(f"/api/v1/patients/{ins}/consents", headers=colleague).status_code == 201
    unknown = http.get("/fhir/DocumentReference/doc-" + "0" * 32, headers=colleague)
    for headers in ({"If-None-Match": 'W/"2"'}, {"If-None-Match": "*"}, since):
        hidden = http.get(path, headers={**colleague, **headers})  # masked from them
        assert hidden.status_code == 404 and hidden.json() == unknown.json(), headers
        hidden_binary = http.get(binary, headers={**colleague, **headers})
        assert hidden_binary.status_code == 404
    hidden_patch = http.patch(path, json=unmask, headers={**colleague, "If-Match": 'W/"1"'})
    assert hidden_patch.status_code == 404


def copy_with_path(mask: dict[str, Any]) -> dict[str, Any]:
    """The unmasking PATCH (delete of the MASQUE_PS label)."""
    return {
        "resourceType": "Parameters",
        "parameter": [
            {
                "name": "operation",
                "part": [
                    {"name": "type", "valueCode": "delete"},
                    {
                        "name": "path",
                        "valueString": "DocumentReference.securityLabel.where(coding.code='MASQUE_PS')",
                    },
                ],
            }
        ],
    }


def idnat_ps_author(rpps: str) -> dict[str, Any]:
    return {
        "contained": [
            {
                "resourceType": "Practitioner",
                "id": "pract",
                "identifier": [
                    {
                        "type": {
                            "coding": [
                                {
                                    "system": "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203",
                                    "code": "IDNPS",
                                }
                            ]
                        },
                        "system": "urn:oid:1.2.250.1.71.4.2.1",
                        "value": f"8{rpps}",
                    }
                ],
            }
        ],
        "author": [{"reference": "#pract"}],
    }


def test_the_author_is_named_by_idnat_ps_on_deposit_and_read(system: Running, api: Api) -> None:
    """ITI-65 takes the author as ANS has it (a contained Practitioner, IdNat_PS 8 + RPPS, type IDNPS) when it
    is the professional depositing; another is refused naming it, never dropped; reads show it back."""
    http = system.http
    ins, patient, doctor, rpps = dossier_with_doctor(api, "fhir-author@patients.dmp-test.fr")
    sent = reference(ins, content=PDF + b" author", **idnat_ps_author(rpps))
    created = http.post("/fhir/DocumentReference", json=sent, headers=doctor)
    assert created.status_code == 201, created.text
    shown = http.get(f"/fhir/DocumentReference/{created.json()['id']}", headers=patient).json()
    DocumentReference.model_validate(shown)
    [author] = shown["author"]
    [practitioner] = [c for c in shown["contained"] if f"#{c['id']}" == author["reference"]]
    assert practitioner["identifier"][0]["value"] == f"8{rpps}"
    assert practitioner["identifier"][0]["type"]["coding"][0]["code"] == "IDNPS"

    other = reference(ins, content=PDF + b" other", **idnat_ps_author("10000000009"))
    refused = http.post("/fhir/DocumentReference", json=other, headers=doctor)
    assert refused.status_code == 422 and refused.json()["issue"][0]["expression"] == ["author[0]"]
    in_bundle = http.post("/fhir", json=provide(ins, other), headers=doctor)
    assert in_bundle.status_code == 422, in_bundle.text
    assert in_bundle.json()["issue"][0]["expression"] == ["Bundle.entry[1].resource.author[0]"]
    provided = http.post(
        "/fhir",
        json=provide(ins, reference(ins, content=PDF + b" set", **idnat_ps_author(rpps))),
        headers=doctor,
    )
    assert provided.status_code == 200, provided.text
    search = {"patient.identifier": f"{INS_SYSTEM}|{ins}"}
    assert http.get("/fhir/DocumentReference", params=search, headers=patient).json()["total"] == 2


def test_iti67_coded_parameters_find_what_the_resources_show(
    system: Running, corpus: dict[str, Any]
) -> None:
    """setting, facility, event, format, related:identifier: each finds exactly the documents whose emitted
    DocumentReference carries the code (a comma an OR, a repeat an AND); GET and POST agree."""
    http, ids, patient = system.http, corpus["ids"], corpus["patient"]
    by_ins = {"patient.identifier": f"{INS_SYSTEM}|{corpus['ins']}"}

    def search(*pairs: tuple[str, str]) -> set[str]:
        params = [*by_ins.items(), ("status", "current,superseded"), *pairs]
        by_get = set(
            found(http.get("/fhir/DocumentReference", params=tuple(params), headers=patient))
        )
        posted = http.post(
            "/fhir/DocumentReference/_search",
            data=dict(params[:2]) | {k: v for k, v in pairs[:1]},
            headers=patient,
        )
        if len(pairs) == 1:
            assert set(found(posted)) == by_get
        return by_get

    everything = {ids["old"], ids["new"], ids["summary"], ids["prescription"]}
    assert search(("setting", f"{SNOMED}|394802001")) == {ids["old"], ids["new"]}
    assert search(("setting", "394802001")) == {ids["old"], ids["new"]}  # any system
    assert search(("setting", f"{LOINC}|394802001")) == set()  # another system's code
    assert search(("facility", f"{SNOMED}|22232009,{SNOMED}|394747008")) == {
        ids["old"],
        ids["new"],
        ids["summary"],
    }
    assert search(("event", f"{SNOMED}|38341003")) == {ids["old"], ids["summary"]}
    assert search(("event", f"{SNOMED}|38341003"), ("event", f"{SNOMED}|73211009")) == {
        ids["summary"]
    }  # both events
    assert search(("format", f"{FORMAT_SYSTEM}|")) == {ids["old"], ids["new"]}
    assert search(("related:identifier", f"{ACCESSION}|ACC-1")) == {ids["summary"]}
    assert search(("related", "Encounter/1")) == set()  # context.related holds no references
    assert search() == everything
    for doc in (corpus["raw"]["first"], corpus["raw"]["summary"]):
        shown = http.get(f"/fhir/DocumentReference/{fid(doc['document_id'])}", headers=patient)
        DocumentReference.model_validate(shown.json())
    refused = http.get(
        "/fhir/DocumentReference", params={**by_ins, "event": "a,,b"}, headers=patient
    )
    assert refused.status_code == 400 and refused.json()["issue"][0]["expression"] == ["event"]
