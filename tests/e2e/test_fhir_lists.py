"""ITI-66, Find Document Lists, against the whole system: the submission set ITI-65 keeps is found and read as an
MHD SubmissionSet List (checked against the shared profile), with only the documents the caller may see; a set
none of whose documents they may see does not exist for them."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from defusedxml import ElementTree
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhirclient.client import FHIRClient
from fhirclient.models.list import List as ClientList
from fhirpy import SyncFHIRClient

from services.common.codes import INS_SYSTEM
from tests.e2e.test_fhir import PDF, reference
from tests.fhir_profiles import problems
from tests.system import Api, Running

pytestmark = pytest.mark.slow
MHD = "https://profiles.ihe.net/ITI/MHD/StructureDefinition/"
LIST_TYPES = "https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes"
DESIGNATION = {"system": "https://example.org/JDV_J03", "code": "04", "display": "Sortie"}


def the_list(unique_id: str, source_id: str = "urn:oid:1.2.250.1.999.66") -> dict[str, Any]:
    return {
        "resourceType": "List",
        "status": "current",
        "mode": "working",
        "title": "Sortie d'hospitalisation",
        "code": {"coding": [{"system": LIST_TYPES, "code": "submissionset"}]},
        "identifier": [{"use": "usual", "system": "urn:ietf:rfc:3986", "value": unique_id}],
        "extension": [
            {
                "url": f"{MHD}ihe-sourceId",
                "valueIdentifier": {"system": "urn:ietf:rfc:3986", "value": source_id},
            },
            {
                "url": f"{MHD}ihe-designationType",
                "valueCodeableConcept": {"coding": [DESIGNATION]},
            },
        ],
    }


def provide_set(
    http: Any, who: dict[str, str], ins: str, *contents: bytes, **extra: Any
) -> tuple[str, list[str]]:
    """Deposit a submission set of these documents by ITI-65: (the List's id, its documents' ids, in order)."""
    unique_id = f"urn:uuid:{uuid.uuid4()}"
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": f"urn:uuid:{uuid.uuid4()}",
            "resource": {**the_list(unique_id), **extra},
            "request": {"method": "POST", "url": "List"},
        }
    ]
    for content in contents:
        master = {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{uuid.uuid4()}"}
        entries.append(
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": reference(ins, content=content, masterIdentifier=master),
                "request": {"method": "POST", "url": "DocumentReference"},
            }
        )
    answer = http.post(
        "/fhir",
        json={"resourceType": "Bundle", "type": "transaction", "entry": entries},
        headers=who,
    )
    assert answer.status_code == 200, answer.text
    locations = [entry["response"]["location"] for entry in answer.json()["entry"]]
    assert locations[0].startswith("List/sub-") and locations[0].endswith("/_history/1")
    return (
        locations[0].removeprefix("List/").removesuffix("/_history/1"),
        [location.split("/")[1] for location in locations[1:]],
    )


def lists(answer: Any) -> list[dict[str, Any]]:
    """The Lists of a searchset, each checked against the shared SubmissionSet profile."""
    assert answer.status_code == 200, answer.text
    Bundle.model_validate(answer.json())
    found = [
        entry["resource"]
        for entry in answer.json().get("entry", [])
        if entry["resource"]["resourceType"] == "List"
    ]
    for resource in found:
        assert problems(resource) == [], resource
    return found


def items(resource: dict[str, Any]) -> list[str]:
    return [
        entry["item"]["reference"].removeprefix("DocumentReference/") for entry in resource["entry"]
    ]


def test_iti65s_submission_set_is_found_and_read_by_iti66(system: Running, api: Api) -> None:
    http = system.http
    ins, patient, doctor = api.dossier_with_consenting_doctor("fhir-lists@patients.dmp-test.fr")
    first, documents = provide_set(http, doctor, ins, PDF + b" set 1a", PDF + b" set 1b")
    second, _ = provide_set(http, doctor, ins, PDF + b" set 2")
    by_ins = {"patient.identifier": f"{INS_SYSTEM}|{ins}"}

    read = http.get(f"/fhir/List/{first}", headers=patient)
    assert read.status_code == 200 and problems(read.json()) == []
    assert items(read.json()) == documents  # the documents, in the order submitted
    assert read.json()["extension"][1]["valueCodeableConcept"]["coding"] == [DESIGNATION]
    assert read.json()["title"] == "Sortie d'hospitalisation"
    for document_id in documents:  # each entry is a DocumentReference the caller can read
        assert (
            http.get(f"/fhir/DocumentReference/{document_id}", headers=patient).status_code == 200
        )

    def search(who: dict[str, str] = patient, **params: str) -> set[str]:
        return {
            r["id"] for r in lists(http.get("/fhir/List", params={**by_ins, **params}, headers=who))
        }

    unique_id = read.json()["identifier"][0]["value"]
    submitted = read.json()["date"]
    assert search() == {first, second}
    assert (
        search(code="submissionset")
        == search(code=f"{LIST_TYPES}|submissionset")
        == {first, second}
    )
    assert search(code="folder") == set() and search(status="retired") == set()
    assert search(status="current,retired") == {first, second}
    assert search(identifier=f"urn:ietf:rfc:3986|{unique_id}") == {first}
    assert search(identifier=read.json()["identifier"][1]["value"]) == {first}  # its entryUUID
    assert search(_id=f"{first},sub-{'0' * 32}") == {first}
    assert search(sourceId="urn:oid:1.2.250.1.999.66") == {first, second}
    assert search(sourceId="urn:oid:1.2.250.1.999.67") == set()
    assert search(designationType=f"{DESIGNATION['system']}|04,05") == {first, second}
    assert search(designationType="http://other.example|04") == set()
    assert search(date=f"ge{submitted}") == {first, second}
    assert search(date="lt2026-01-01") == set()
    assert search(_lastUpdated="ge2026-01-01") == {first, second}
    # Its submitter by their registered name (Alex Durand): FHIR string search, :exact as registered.
    assert read.json()["contained"][0]["name"] == [{"family": "Durand", "given": ["Alex"]}]
    assert search(patient, **{"source.family": "dur", "source.given": "alE"}) == {first, second}
    assert search(patient, **{"source.family:exact": "Durand"}) == {first, second}
    assert search(patient, **{"source.family": "ura"}) == set()
    assert search(patient, **{"source.given": "x"}) == set()
    patient_id = read.json()["subject"]["reference"]
    assert {
        r["id"]
        for r in lists(http.get("/fhir/List", params={"patient": patient_id}, headers=doctor))
    } == {
        first,
        second,
    }
    posted = http.post("/fhir/List/_search", data={**by_ins, "_id": first}, headers=patient)
    assert [r["id"] for r in lists(posted)] == [first]

    # _count pages with an honest total; the next link leads to the rest.
    paged = http.get("/fhir/List", params={**by_ins, "_count": "1"}, headers=patient)
    assert paged.json()["total"] == 2 and [r["id"] for r in lists(paged)] == [
        second
    ]  # newest first
    following = next(link["url"] for link in paged.json()["link"] if link["relation"] == "next")
    rest = http.get(following.removeprefix(system.stack.gateway_url), headers=patient)
    assert [r["id"] for r in lists(rest)] == [first] and rest.json()["total"] == 2
    assert (
        http.get("/fhir/List", params={**by_ins, "_count": "0"}, headers=patient).json()["total"]
        == 2
    )

    # Unknown parameters: left out of the self link and named in a warning, or refused under strict.
    unknown = {**by_ins, "source.family:contains": "ura"}  # a string modifier not served
    lenient = http.get("/fhir/List", params=unknown, headers=patient)
    assert "source.family" not in lenient.json()["link"][0]["url"] and len(lists(lenient)) == 2
    assert lenient.json()["entry"][-1]["search"]["mode"] == "outcome"
    strict = http.get(
        "/fhir/List",
        params=unknown,
        headers={**patient, "Prefer": "handling=strict"},
    )
    assert strict.status_code == 400 and "source.family:contains" in strict.text
    bad = http.get("/fhir/List", params={**by_ins, "date": "yesterday"}, headers=patient)
    assert bad.status_code == 400 and bad.json()["issue"][0]["expression"] == ["date"]

    xml = http.get(f"/fhir/List/{first}", headers={**patient, "Accept": "application/fhir+xml"})
    assert xml.status_code == 200 and xml.headers["content-type"].startswith("application/fhir+xml")
    root = ElementTree.fromstring(xml.content)
    assert root.tag == "{http://hl7.org/fhir}List"
    assert [e.get("value") for e in root.iter("{http://hl7.org/fhir}reference")][-2:] == [
        f"DocumentReference/{d}" for d in documents
    ]

    # The set's unique id is used once per dossier: a second set with it is refused, as a document's would be.
    again = {**the_list(unique_id)}
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": "urn:uuid:" + str(uuid.uuid4()),
            "resource": again,
            "request": {"method": "POST", "url": "List"},
        },
        {
            "fullUrl": "urn:uuid:" + str(uuid.uuid4()),
            "resource": reference(
                ins,
                content=PDF + b" set 3",
                masterIdentifier={
                    "system": "urn:ietf:rfc:3986",
                    "value": f"urn:uuid:{uuid.uuid4()}",
                },
            ),
            "request": {"method": "POST", "url": "DocumentReference"},
        },
    ]
    reused = http.post(
        "/fhir",
        json={"resourceType": "Bundle", "type": "transaction", "entry": entries},
        headers=doctor,
    )
    assert reused.status_code == 409, reused.text
    assert "submission set with this unique_id" in reused.json()["issue"][0]["diagnostics"]
    assert search() == {first, second}  # and nothing of it was stored
    # What the dossier refuses of the set itself names the List's element.
    malformed_set = the_list(f"urn:uuid:{uuid.uuid4()}")
    malformed_set["extension"][1]["valueCodeableConcept"]["coding"] = [
        {**DESIGNATION, "system": "J03"}
    ]
    entries[0]["resource"] = malformed_set
    malformed = http.post(
        "/fhir",
        json={"resourceType": "Bundle", "type": "transaction", "entry": entries},
        headers=doctor,
    )
    assert malformed.status_code == 422, malformed.text
    assert malformed.json()["issue"][0]["expression"] == ["Bundle.entry[0].resource.extension"]
    assert search() == {first, second}


def test_the_same_iti65_bundle_sent_again_answers_the_deposit_made_never_a_second(
    system: Running, api: Api
) -> None:
    """Its answer lost, a source sends the Bundle again: the same SubmissionSet uniqueId and content by the same
    professional answer the deposit already made (a deposit cut short would be completed), nothing twice."""
    http = system.http
    ins, patient, doctor = api.dossier_with_consenting_doctor("fhir-resend@patients.dmp-test.fr")
    master = {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{uuid.uuid4()}"}
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": f"urn:uuid:{uuid.uuid4()}",
            "resource": the_list(f"urn:uuid:{uuid.uuid4()}"),
            "request": {"method": "POST", "url": "List"},
        },
        {
            "fullUrl": f"urn:uuid:{uuid.uuid4()}",
            "resource": reference(ins, content=PDF + b" resent", masterIdentifier=master),
            "request": {"method": "POST", "url": "DocumentReference"},
        },
    ]
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    first = http.post("/fhir", json=bundle, headers=doctor)
    again = http.post("/fhir", json=bundle, headers=doctor)
    assert first.status_code == again.status_code == 200, again.text
    assert [e["response"]["location"] for e in again.json()["entry"]] == [
        e["response"]["location"] for e in first.json()["entry"]
    ]
    by_ins = {"patient.identifier": f"{INS_SYSTEM}|{ins}"}
    assert len(lists(http.get("/fhir/List", params=by_ins, headers=patient))) == 1
    documents = http.get("/fhir/DocumentReference", params=by_ins, headers=patient).json()
    assert documents["total"] == 1


def test_stock_clients_find_and_read_lists(system: Running, api: Api) -> None:
    ins, patient, doctor = api.dossier_with_consenting_doctor(
        "fhir-lists-clients@patients.dmp-test.fr"
    )
    set_id, documents = provide_set(system.http, doctor, ins, PDF + b" clients")
    base = f"{system.stack.gateway_url}/fhir"
    as_patient = SyncFHIRClient(base, authorization=patient["Authorization"])
    found = as_patient.resources("List").search(**{"patient.identifier": ins}).fetch()
    assert [r.id for r in found] == [set_id]
    assert (
        as_patient.resources("List").search(**{"patient.identifier": ins, "code": "folder"}).count()
        == 0
    )
    read = as_patient.reference("List", set_id).to_resource()
    assert [e["item"]["reference"] for e in read["entry"]] == [f"DocumentReference/{documents[0]}"]
    client = FHIRClient(settings={"app_id": "dmp-tests", "api_base": base})
    client.server.session.headers["Authorization"] = patient["Authorization"]
    listed: Any = ClientList.where(struct={"patient.identifier": ins}).perform_resources(
        client.server
    )
    assert [r.id for r in listed] == [set_id] and listed[0].code.coding[0].code == "submissionset"
    one: Any = ClientList.read(set_id, client.server)
    assert one.entry[0].item.reference == f"DocumentReference/{documents[0]}"


def not_found(answer: Any) -> list[Any]:
    """A 404 OperationOutcome's issues: what tells two refusals apart, if anything does."""
    assert answer.status_code == 404, answer.text
    OperationOutcome.model_validate(answer.json())
    issues: list[Any] = answer.json()["issue"]
    return issues


def test_a_list_shows_only_what_the_caller_may_see_and_is_absent_when_that_is_nothing(
    system: Running, api: Api
) -> None:
    http = system.http
    ins, patient, author = api.dossier_with_consenting_doctor(
        "fhir-lists-hidden@patients.dmp-test.fr"
    )
    rpps, colleague = api.professional("10")
    assert http.post(f"/api/v1/patients/{ins}/consents", headers=colleague).status_code == 201
    other_ins, other_patient, other_doctor = api.dossier_with_consenting_doctor(
        "fhir-lists-other@patients.dmp-test.fr"
    )
    masked_set, (masked,) = provide_set(http, author, ins, PDF + b" to be masked")
    mixed_set, (half_masked, shown) = provide_set(
        http, author, ins, PDF + b" mixed 1", PDF + b" mixed 2"
    )
    for document in (masked, half_masked):
        assert (
            http.put(
                f"/api/v1/patients/{ins}/documents/{document.replace('-', '_', 1)}/visibility",
                json={"masked": True},
                headers=patient,
            ).status_code
            == 200
        )
    # Invisible to the patient (a result awaiting its announcement): deposited with the TRE_A07 label.
    invisible = reference(
        ins,
        content=PDF + b" announce",
        masterIdentifier={"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{uuid.uuid4()}"},
        securityLabel=[
            {"coding": [{"system": "urn:oid:1.2.250.1.213.1.1.4.13", "code": "INVISIBLE_PATIENT"}]}
        ],
    )
    entries = [
        {
            "fullUrl": f"urn:uuid:{uuid.uuid4()}",
            "resource": the_list(f"urn:uuid:{uuid.uuid4()}"),
            "request": {"method": "POST", "url": "List"},
        },
        {
            "fullUrl": f"urn:uuid:{uuid.uuid4()}",
            "resource": invisible,
            "request": {"method": "POST", "url": "DocumentReference"},
        },
    ]
    provided = http.post(
        "/fhir",
        json={"resourceType": "Bundle", "type": "transaction", "entry": entries},
        headers=author,
    )
    assert provided.status_code == 200, provided.text
    invisible_set = provided.json()["entry"][0]["response"]["location"].split("/")[1]
    other_set, _ = provide_set(http, other_doctor, other_ins, PDF + b" another patient")

    def found(who: dict[str, str], patient_ins: str = ins, **params: str) -> dict[str, list[str]]:
        answer = http.get(
            "/fhir/List", params={"patient.identifier": patient_ins, **params}, headers=who
        )
        return {r["id"]: items(r) for r in lists(answer)}

    unknown = not_found(http.get(f"/fhir/List/sub-{'0' * 32}", headers=colleague))
    assert not_found(http.get("/fhir/List/not-a-list-id", headers=colleague)) == unknown
    # The colleague: the masked document's set does not exist; the mixed one shows its visible document only.
    assert found(colleague) == {
        mixed_set: [shown],
        invisible_set: items(http.get(f"/fhir/List/{invisible_set}", headers=author).json()),
    }
    for probe in (
        {"_id": masked_set},
        {
            "identifier": http.get(f"/fhir/List/{masked_set}", headers=author).json()["identifier"][
                0
            ]["value"]
        },
        {"_count": "0"},
    ):
        assert masked_set not in found(colleague, **probe), probe
    assert (
        http.get(
            "/fhir/List", params={"patient.identifier": ins, "_id": masked_set}, headers=colleague
        ).json()["total"]
        == 0
    )
    assert (
        http.get("/fhir/List", params={"patient.identifier": ins}, headers=colleague).json()[
            "total"
        ]
        == 2
    )
    assert not_found(http.get(f"/fhir/List/{masked_set}", headers=colleague)) == unknown
    assert items(http.get(f"/fhir/List/{mixed_set}", headers=colleague).json()) == [shown]
    # Its author still sees the masked documents, in every set.
    assert found(author)[masked_set] == [masked] and found(author)[mixed_set] == [
        half_masked,
        shown,
    ]
    # The patient: the invisible document's set does not exist for them.
    assert invisible_set not in found(patient) and set(found(patient)) == {masked_set, mixed_set}
    assert not_found(http.get(f"/fhir/List/{invisible_set}", headers=patient)) == unknown
    # Another patient's set: unknown to this patient, and to this dossier's doctors.
    assert not_found(http.get(f"/fhir/List/{other_set}", headers=patient)) == unknown
    assert not_found(http.get(f"/fhir/List/{other_set}", headers=author)) == unknown
    assert other_set not in found(author) and other_set in found(other_patient, other_ins)
    # A professional the patient blocked: every set of the dossier is unknown to them.
    assert (
        http.post(
            f"/api/v1/patients/{ins}/blocks",
            json={"professional_id": f"rpps:{rpps}"},
            headers=patient,
        ).status_code
        == 200
    )
    assert not_found(http.get(f"/fhir/List/{mixed_set}", headers=colleague)) == unknown
    refused = http.get("/fhir/List", params={"patient.identifier": ins}, headers=colleague)
    blocked_documents = http.get(
        "/fhir/DocumentReference", params={"patient.identifier": ins}, headers=colleague
    )
    assert refused.status_code == blocked_documents.status_code == 403  # as for its documents
    assert refused.json()["issue"] == blocked_documents.json()["issue"]
