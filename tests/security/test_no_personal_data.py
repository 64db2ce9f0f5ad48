"""No personal data in what operators see: after a whole journey (enrolment, one-time-code login,
deposit, reads, a refusal, a refused token, the history, notifications), no service log and no span
name or attribute holds the patient's names, INS, email, the document's title or content, the login
code or an access token."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from tests.identities import registration
from tests.journeys import eventually
from tests.mailbox import DOSSIER_NEWS, LOGIN_CODE
from tests.system import Api, Running, document

pytestmark = pytest.mark.slow
TITLE = "Bilan cardiologique confidentiel Zéphyrine"
CONTENT = (
    b"%PDF-1.4\nTension arterielle 14/9, souffle systolique, traitement par bisoprolol.\n%%EOF"
)


def test_the_journey_leaves_no_personal_data_in_logs_or_spans(system: Running, api: Api) -> None:
    http, email = system.http, "zephyrine.pii@patients.dmp-test.fr"
    details = registration(email=email, given_name="Zéphyrine", family_name="Quillebeuf")
    assert http.post("/api/v1/patients", json=details).status_code == 201
    ins = details["ins"]
    assert (
        http.post("/api/v1/login/patient/code", json={"ins": ins, "channel": "email"}).status_code
        == 202
    )
    found = re.search(
        r"\b(\d{6})\b", system.mailbox.wait_for(email, 1, LOGIN_CODE)[-1].get_content()
    )
    assert found is not None
    code = found.group(1)
    login = http.post("/api/v1/login/patient/token", json={"ins": ins, "code": code})
    assert login.status_code == 200
    access_token = login.json()["access_token"]
    patient = {"Authorization": f"Bearer {access_token}"}
    assert http.post("/api/v1/dossiers", json={"ins": ins}, headers=patient).status_code == 201
    _, doctor = api.professional("10")
    assert http.post(f"/api/v1/patients/{ins}/consents", headers=doctor).status_code == 201
    added = http.post(
        f"/api/v1/patients/{ins}/documents", json=document(CONTENT, title=TITLE), headers=doctor
    )
    assert added.status_code == 201
    document_id = added.json()["document_id"]
    assert (
        http.get(f"/api/v1/patients/{ins}/documents/{document_id}", headers=doctor).status_code
        == 200
    )
    assert (
        http.get(f"/api/v1/patients/{ins}/documents/{document_id}/content", headers=patient).content
        == CONTENT
    )
    _, stranger = api.professional("10")
    assert http.get(f"/api/v1/patients/{ins}/documents", headers=stranger).status_code == 403
    assert (
        http.get(
            f"/api/v1/patients/{ins}/documents", headers={"Authorization": "Bearer x.y.z"}
        ).status_code
        == 401
    )
    assert http.get(f"/api/v1/patients/{ins}/history", headers=patient).status_code == 200
    assert (
        http.post("/api/v1/login/patient/token", json={"ins": ins, "code": "000000"}).status_code
        == 401
    )
    system.mailbox.wait_for(email, 2, DOSSIER_NEWS)  # events went all the way through notify

    def spans_of_every_service() -> bool:
        return {s.service for s in system.collector.snapshot()} >= {
            "dmp-gateway",
            "dmp-identity",
            "dmp-consent",
            "dmp-dossier",
            "dmp-audit",
            "dmp-notify",
        }

    eventually(spans_of_every_service, seconds=30)
    personal = {
        "INS": ins,
        "NIR": ins[:13],
        "given name": "Zéphyrine",
        "family name": "Quillebeuf",
        "email": email,
        "email user": "zephyrine.pii",
        "title": TITLE,
        "content": "souffle systolique",
        "content (base64)": base64.b64encode(CONTENT).decode()[:40],
        "access token": access_token,
        "token signature": access_token.rsplit(".", 1)[1],
    }
    logs = sorted(Path(system.logs).glob("*.log"))
    assert {p.stem for p in logs} >= {
        "identity",
        "consent",
        "dossier",
        "notify",
        "audit",
        "gateway",
    }
    texts = {p.name: p.read_text(errors="replace") for p in logs}
    assert sum(len(t) for t in texts.values()) > 1000  # the services did log
    leaks = [
        f"{name}: {what}"
        for name, text in texts.items()
        for what, value in personal.items()
        if value in text
    ]
    leaks += [
        f"{name}: login code"
        for name, text in texts.items()
        if re.search(rf"(?<![\d.:,]){code}(?!\d)", text)
    ]
    spans = system.collector.snapshot()
    for span in spans:
        for value_seen in [span.name, *span.attributes.keys(), *span.attributes.values()]:
            leaks += [
                f"span {span.service}/{span.name}: {what}"
                for what, value in personal.items()
                if value in value_seen
            ]
    print(
        f"\nscanned {len(logs)} logs ({sum(len(t) for t in texts.values())} characters) and {len(spans)} spans "
        f"for {len(personal)} kinds of personal data: {len(leaks)} leak(s)"
    )
    assert leaks == []
