"""The care summary (issue 22) through the gateway, on the whole system: GET /api/v1/patients/{ins}/summary."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from services.common.clock import utcnow
from tests.identities import Card
from tests.journeys import eventually
from tests.system import Api, Running, document

pytestmark = pytest.mark.slow


def days_ago(days: int) -> str:
    return (utcnow() - timedelta(days=days)).date().isoformat()


def feed_headers(api: Api) -> dict[str, str]:
    """A reimbursement feed of its own (a system client), logged in with its key."""
    client_id, card = f"feed-{uuid.uuid4().hex[:12]}", Card()
    registered = api.http.post(
        "/api/v1/systems", json={"client_id": client_id, "public_key": card.public_pem}
    )
    assert registered.status_code == 201, registered.text
    actor_id = f"system:{client_id}"
    nonce = api.http.post("/api/v1/login/card/challenge", json={"actor_id": actor_id}).json()[
        "nonce"
    ]
    token = api.http.post(
        "/api/v1/login/card/token",
        json={"actor_id": actor_id, "nonce": nonce, "signature": card.sign(nonce)},
    )
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def reimbursed(api: Api, ins: str, lines: list[tuple[int, list[dict[str, Any]]]]) -> None:
    batch = [
        {
            "line_id": f"S{uuid.uuid4().hex[:16]}",
            "ins": ins,
            "care_date": days_ago(age),
            "items": items,
            "billed_cents": 1000,
            "reimbursed_cents": 700,
        }
        for age, items in lines
    ]
    report = api.http.post(
        "/api/v1/reimbursements", json={"lines": batch}, headers=feed_headers(api)
    )
    assert report.status_code == 200 and report.json()["accepted"] == len(batch), report.text


def deposit(api: Api, ins: str, headers: dict[str, str], **metadata: Any) -> str:
    added = api.http.post(
        f"/api/v1/patients/{ins}/documents",
        json=document(f"%PDF-1.4 {uuid.uuid4().hex}".encode(), **metadata),
        headers=headers,
    )
    assert added.status_code == 201, added.text
    document_id: str = added.json()["document_id"]
    return document_id


def allergic(api: Api, ins: str, patient: dict[str, str]) -> None:
    saved = api.http.put(
        f"/api/v1/patients/{ins}/personal-space",
        headers=patient,
        json={
            "version": 0,
            "content": {"allergies": [{"substance": "Pénicilline", "severity": "severe"}]},
        },
    )
    assert saved.status_code == 200, saved.text


def summary_of(api: Api, ins: str, headers: dict[str, str]) -> dict[str, Any]:
    response = api.http.get(f"/api/v1/patients/{ins}/summary", headers=headers)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


STATIN = {"system": "CIP13", "code": "3400930000001", "atc": "C10AA05"}
STATIN_OTHER_BOX = {"system": "CIP13", "code": "3400930000002", "atc": "C10AA05"}
PARACETAMOL = {"system": "CIP13", "code": "3400930000003"}  # the feed gave no ATC class
HBA1C = {"system": "NABM", "code": "1577"}
CHEST_XRAY = {"system": "CCAM", "code": "ZBQK002"}


def test_a_doctor_with_consent_gets_the_summary(api: Api) -> None:
    ins, patient, doctor = api.dossier_with_consenting_doctor("summary-doctor@patients.dmp-test.fr")
    reimbursed(
        api,
        ins,
        [
            (300, [STATIN]),
            (100, [STATIN_OTHER_BOX, HBA1C]),
            (90, [HBA1C, PARACETAMOL]),
            (20, [CHEST_XRAY]),
        ],
    )
    report = deposit(api, ins, doctor, category="10", care_date=days_ago(30), title="CR ancien")
    newer = deposit(api, ins, doctor, category="10", care_date=days_ago(5), title="CR récent")
    imaging = deposit(
        api, ins, doctor, category="31", type_code="18748-4", care_date=days_ago(20), title="Radio"
    )
    allergic(api, ins, patient)

    care = summary_of(api, ins, doctor)
    assert care["withheld"] == [] and care["access"]["rule"] == "R-CONSENT"
    medicines = {m["code"]: m for m in care["medicines"]}
    assert set(medicines) == {"C10AA05", "3400930000003"}
    statin = medicines["C10AA05"]
    assert statin["code_system"] == "ATC" and statin["drug_codes"] == [
        "3400930000001",
        "3400930000002",
    ]
    assert (statin["first_dispensed"], statin["last_dispensed"], statin["dispensings"]) == (
        days_ago(300),
        days_ago(100),
        2,
    )
    acts = {a["code"]: a for a in care["acts"]}
    assert [d["care_date"] for d in acts["1577"]["dates"]] == [days_ago(100), days_ago(90)]
    assert acts["1577"]["possibly_redundant"] is True  # ten days apart, a 30-day window
    assert acts["ZBQK002"]["possibly_redundant"] is False
    latest = {entry["category"]: entry for entry in care["latest_documents"]}
    assert latest["10"]["document"]["document_id"] == newer and latest["10"]["count"] == 2
    assert latest["31"]["document"]["document_id"] == imaging
    assert report not in {entry["document"]["document_id"] for entry in care["latest_documents"]}
    assert care["allergies"] == [
        {"substance": "Pénicilline", "reaction": None, "severity": "severe"}
    ]


def test_a_professional_without_consent_is_refused_exactly_like_the_document_list(api: Api) -> None:
    ins, _, _ = api.dossier_with_consenting_doctor("summary-stranger@patients.dmp-test.fr")
    _, stranger = api.professional("10")
    listed = api.http.get(f"/api/v1/patients/{ins}/documents", headers=stranger)
    summarised = api.http.get(f"/api/v1/patients/{ins}/summary", headers=stranger)
    assert listed.status_code == summarised.status_code == 403

    def comparable(body: dict[str, Any]) -> dict[str, Any]:
        return {key: value for key, value in body.items() if key not in {"instance", "request_id"}}

    assert comparable(summarised.json()) == comparable(listed.json())
    assert summarised.json()["errors"] == [{"rule": "R-NO-CONSENT"}]


def test_a_profession_the_matrix_denies_reimbursement_data_gets_no_medicines_nor_acts(
    api: Api,
) -> None:
    ins, patient, doctor = api.dossier_with_consenting_doctor(
        "summary-pharmacist@patients.dmp-test.fr"
    )
    reimbursed(api, ins, [(40, [STATIN, HBA1C])])
    allergic(api, ins, patient)
    _, pharmacist = api.professional(
        "21"
    )  # the pharmacists' row does not read class 60, reads class 90
    assert api.http.post(f"/api/v1/patients/{ins}/consents", headers=pharmacist).status_code == 201

    care = summary_of(api, ins, pharmacist)
    assert care["medicines"] is None and care["acts"] is None
    assert care["withheld"] == [{"part": "reimbursements", "rule": "R-MATRIX-CATEGORY"}]
    assert [a["substance"] for a in care["allergies"]] == ["Pénicilline"]
    assert (
        summary_of(api, ins, doctor)["medicines"][0]["code"] == "C10AA05"
    )  # the same dossier has them


def test_a_masked_document_is_not_its_categorys_latest_for_whom_it_is_hidden(api: Api) -> None:
    ins, patient, author = api.dossier_with_consenting_doctor("summary-masked@patients.dmp-test.fr")
    older = deposit(api, ins, author, category="10", care_date=days_ago(60), title="CR visible")
    masked = deposit(api, ins, author, category="10", care_date=days_ago(3), title="CR masqué")
    hidden_only = deposit(
        api, ins, author, category="31", type_code="18748-4", care_date=days_ago(3), title="Radio"
    )
    for document_id in (masked, hidden_only):
        change = api.http.put(
            f"/api/v1/patients/{ins}/documents/{document_id}/visibility",
            json={"masked": True},
            headers=patient,
        )
        assert change.status_code == 200, change.text
    _, colleague = api.professional("10")
    assert api.http.post(f"/api/v1/patients/{ins}/consents", headers=colleague).status_code == 201

    seen = {
        entry["category"]: entry for entry in summary_of(api, ins, colleague)["latest_documents"]
    }
    assert seen["10"]["document"]["document_id"] == older and seen["10"]["count"] == 1
    assert "31" not in seen  # a category whose only document is masked is not there at all
    by_author = {
        entry["category"]: entry for entry in summary_of(api, ins, author)["latest_documents"]
    }
    assert by_author["10"]["document"]["document_id"] == masked  # its author still sees it
    assert by_author["31"]["document"]["document_id"] == hidden_only


def test_the_summary_is_traced_like_a_list(system: Running, api: Api) -> None:
    ins, patient, _ = api.dossier_with_consenting_doctor("summary-traced@patients.dmp-test.fr")
    rpps, reader = api.professional("10")
    assert api.http.post(f"/api/v1/patients/{ins}/consents", headers=reader).status_code == 201
    summary_of(api, ins, reader)

    def readers_traces() -> set[str]:
        history = api.http.get(
            f"/api/v1/patients/{ins}/history", headers=patient, params={"limit": 100}
        ).json()
        return {
            t["type"] for t in history["traces"] if (t["actor"] or {}).get("id") == f"rpps:{rpps}"
        }

    wanted = {"consent_recorded", "first_access", "documents_listed", "personal_space_read"}
    assert eventually(lambda: wanted <= readers_traces(), seconds=30)
    spans = system.collector.snapshot()  # no personal data in the summary's spans
    for span in spans:
        if span.name.endswith("/summary") or "care_summary" in span.name:
            assert all(ins not in str(value) for value in [span.name, *span.attributes.values()]), (
                span
            )


def test_a_malformed_ins_answers_422_naming_it(api: Api) -> None:
    _, doctor = api.professional("10")
    response = api.http.get(
        "/api/v1/patients/180017512345600/summary", headers=doctor
    )  # a wrong key
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["ins"]
