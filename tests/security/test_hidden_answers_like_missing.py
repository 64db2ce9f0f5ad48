"""Issue 17, item 5: anything a caller may not see answers exactly like something that does not exist.

For every path that names a document by its id (REST reads and writes, FHIR read and Binary), a document
hidden from the caller — masked by the patient, outside the caller's matrix row, invisible to the patient,
in a dossier the caller has no consent for, another patient's — answers with the same status, body and
headers as an id that was never issued. The refusal is still traced with the real rule.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from tests.journeys import eventually
from tests.system import Api, Running, document

pytestmark = pytest.mark.slow
Headers = dict[str, str]


@dataclass
class Hidden:
    why: str
    ins: str
    caller: Headers
    document_id: str


def unknown_id() -> str:
    return f"doc_{uuid.uuid4().hex}"


def fhir(document_id: str) -> str:
    return document_id.replace("_", "-", 1)


# Every path naming a document by id: (name, request maker). Each is given the INS and the id.
PATHS: list[tuple[str, Callable[[httpx.Client, str, str, Headers], httpx.Response]]] = [
    ("read", lambda h, ins, d, who: h.get(f"/api/v1/patients/{ins}/documents/{d}", headers=who)),
    (
        "content",
        lambda h, ins, d, who: h.get(f"/api/v1/patients/{ins}/documents/{d}/content", headers=who),
    ),
    (
        "replace",
        lambda h, ins, d, who: h.post(
            f"/api/v1/patients/{ins}/documents/{d}/replacement",
            headers=who,
            json=document(b"%PDF-1.4 v2 " + uuid.uuid4().bytes),
        ),
    ),
    (
        "delete",
        lambda h, ins, d, who: h.delete(f"/api/v1/patients/{ins}/documents/{d}", headers=who),
    ),
    (
        "archive",
        lambda h, ins, d, who: h.post(f"/api/v1/patients/{ins}/documents/{d}/archive", headers=who),
    ),
    (
        "unarchive",
        lambda h, ins, d, who: h.post(
            f"/api/v1/patients/{ins}/documents/{d}/unarchive", headers=who
        ),
    ),
    (
        "release",
        lambda h, ins, d, who: h.post(f"/api/v1/patients/{ins}/documents/{d}/release", headers=who),
    ),
    (
        "visibility",
        lambda h, ins, d, who: h.put(
            f"/api/v1/patients/{ins}/documents/{d}/visibility", headers=who, json={"masked": True}
        ),
    ),
    ("fhir read", lambda h, ins, d, who: h.get(f"/fhir/DocumentReference/{fhir(d)}", headers=who)),
    ("fhir binary", lambda h, ins, d, who: h.get(f"/fhir/Binary/{fhir(d)}", headers=who)),
    (
        "fhir binary json",
        lambda h, ins, d, who: h.get(
            f"/fhir/Binary/{fhir(d)}", headers={**who, "Accept": "application/fhir+json"}
        ),
    ),
]
VARYING_HEADERS = {"x-request-id", "date"}


def seen_as(response: httpx.Response, document_id: str) -> tuple[int, Any, dict[str, str]]:
    """What a caller can observe, with the id they sent and the request's own id taken out."""
    headers = {k: v for k, v in response.headers.items() if k.lower() not in VARYING_HEADERS}
    text = response.text.replace(document_id, "<id>").replace(fhir(document_id), "<id>")
    request_id = response.headers.get("x-request-id")
    if request_id:
        text = text.replace(request_id, "<request>")
    return response.status_code, text, headers


@pytest.fixture(scope="module")
def hidden(system: Running) -> list[Hidden]:
    """One document hidden from its caller for each reason a document can be hidden."""
    api = Api(system.http, system.mailbox)
    http = system.http
    ins, patient, author = api.dossier_with_consenting_doctor(
        f"cache-{uuid.uuid4().hex[:6]}@patients.dmp-test.fr"
    )

    def deposit(headers: Headers, raw: bytes, **fields: Any) -> str:
        response = http.post(
            f"/api/v1/patients/{ins}/documents", json=document(raw, **fields), headers=headers
        )
        assert response.status_code == 201, response.text
        return str(response.json()["document_id"])

    masked = deposit(author, b"%PDF-1.4 masque")
    assert (
        http.put(
            f"/api/v1/patients/{ins}/documents/{masked}/visibility",
            json={"masked": True},
            headers=patient,
        ).status_code
        == 200
    )
    _, colleague = api.professional("10")
    assert http.post(f"/api/v1/patients/{ins}/consents", headers=colleague).status_code == 201

    summary = deposit(author, b"%PDF-1.4 synthese", category="11", type_code="34133-9")
    _, pharmacist = api.professional("21")  # pharmacists read class 10, not class 11 (synthèse)
    assert http.post(f"/api/v1/patients/{ins}/consents", headers=pharmacist).status_code == 201

    invisible = deposit(author, b"%PDF-1.4 resultat", visibility=["INVISIBLE_PATIENT"])
    _, stranger = api.professional("10")  # no consent at all: FHIR reads by id alone

    other_ins, _, other_doctor = api.dossier_with_consenting_doctor(
        f"autre-{uuid.uuid4().hex[:6]}@patients.dmp-test.fr"
    )
    theirs = http.post(
        f"/api/v1/patients/{other_ins}/documents",
        json=document(b"%PDF-1.4 autre"),
        headers=other_doctor,
    ).json()["document_id"]
    return [
        Hidden("masked by the patient", ins, colleague, masked),
        Hidden("outside the matrix row", ins, pharmacist, summary),
        Hidden("invisible to the patient", ins, patient, invisible),
        Hidden("no consent (by id alone)", ins, stranger, masked),
        Hidden("another patient's document", ins, author, theirs),
    ]


def test_every_path_by_document_id_answers_a_hidden_document_like_an_unknown_one(
    system: Running,
    hidden: list[Hidden],
) -> None:
    differences = []
    for case in hidden:
        for name, call in PATHS:
            if case.why == "no consent (by id alone)" and not name.startswith("fhir"):
                continue  # through the dossier the INS is named: the refusal is about the dossier, not the id
            missing = unknown_id()
            observed_hidden = seen_as(
                call(system.http, case.ins, case.document_id, case.caller), case.document_id
            )
            observed_missing = seen_as(call(system.http, case.ins, missing, case.caller), missing)
            if observed_hidden != observed_missing:
                differences.append((case.why, name, observed_hidden, observed_missing))
            assert observed_hidden[0] < 500, (case.why, name, observed_hidden)
    assert differences == []


def test_a_refusal_answered_as_missing_is_traced_with_its_real_rule(
    system: Running, hidden: list[Hidden]
) -> None:
    by_why = {case.why: case for case in hidden}
    client: MongoClient[dict[str, Any]] = MongoClient(system.stack.env["MONGO_URI"], tz_aware=True)
    traces = client[f"{system.stack.env['DMP_MONGO_DATABASE_PREFIX']}_audit"].traces
    try:
        matrix = by_why["outside the matrix row"]
        assert (
            system.http.post(
                f"/api/v1/patients/{matrix.ins}/documents/{matrix.document_id}/replacement",
                json=document(b"%PDF-1.4 v3"),
                headers=matrix.caller,
            ).status_code
            == 404
        )
        eventually(
            lambda: traces.find_one(
                {
                    "type": "access_denied",
                    "rule": "R-MATRIX-CATEGORY",
                    "document_id": matrix.document_id,
                }
            )
        )
        stranger = by_why["no consent (by id alone)"]
        assert (
            system.http.get(
                f"/fhir/Binary/{fhir(stranger.document_id)}", headers=stranger.caller
            ).status_code
            == 404
        )
        eventually(lambda: traces.find_one({"type": "access_denied", "rule": "R-NO-CONSENT"}))
    finally:
        client.close()
