"""The patient journey of the foundation, through the gateway's HTTP API, on the whole system."""

import base64

import pytest

from services.common.errors import Unauthenticated
from services.common.rpc_client import RpcClient
from services.common.settings import Settings
from services.common.signatures import SIGNING_KEY, signing_variable
from tests.identities import Card, make_ins, registration
from tests.journeys import eventually
from tests.mailbox import DOSSIER_NEWS
from tests.system import Api, Running, document

pytestmark = pytest.mark.slow
PDF = b"%PDF-1.4\nCompte rendu: tension normale.\n%%EOF"


def test_the_patient_journey(system: Running, api: Api) -> None:
    http = system.http
    email = "journey@patients.dmp-test.fr"
    # 1. identity registers a patient and a professional
    ins, patient = api.patient(email)
    rpps, doctor = api.professional("10")
    # 2. the dossier is opened by the patient, channel and consent recorded
    opened = http.post("/api/v1/dossiers", json={"ins": ins}, headers=patient)
    assert opened.status_code == 201 and opened.json()["channel"] == "patient_online"
    # 3. consent records the patient's consent for the doctor
    assert http.post(f"/api/v1/patients/{ins}/consents", headers=doctor).status_code == 201
    # 4. the doctor deposits a document
    added = http.post(f"/api/v1/patients/{ins}/documents", json=document(PDF), headers=doctor)
    assert added.status_code == 201, added.text
    document_id = added.json()["document_id"]
    # 5. the patient lists and reads it; the doctor reads it; a stranger is refused with the reason
    listed = http.get(f"/api/v1/patients/{ins}/documents", headers=patient)
    assert [d["document_id"] for d in listed.json()["documents"]] == [document_id]
    content = http.get(f"/api/v1/patients/{ins}/documents/{document_id}/content", headers=patient)
    assert content.content == PDF and content.headers["content-type"] == "application/pdf"
    read = http.get(f"/api/v1/patients/{ins}/documents/{document_id}", headers=doctor)
    assert base64.b64decode(read.json()["content"]) == PDF
    _, stranger = api.professional("10")
    refused = http.get(f"/api/v1/patients/{ins}/documents/{document_id}", headers=stranger)
    assert refused.status_code == 403
    assert refused.json()["errors"] == [{"rule": "R-NO-CONSENT"}]
    assert "not authorised" in refused.json()["detail"]
    # 6. audit has a trace of every step
    wanted = {
        "dossier_opened",
        "consent_recorded",
        "document_added",
        "documents_listed",
        "document_read",
        "access_denied",
    }

    def traced() -> bool:
        history = http.get(f"/api/v1/patients/{ins}/history", headers=patient).json()
        return wanted <= {t["type"] for t in history["traces"]}

    eventually(traced)
    # 7. notify emailed the patient about the deposit and the doctor's read (not the patient's own)
    mails = system.mailbox.wait_for(email, 2, DOSSIER_NEWS)
    assert {str(m["Subject"]) for m in mails} == {
        "Nouveau document dans votre dossier médical partagé",
        "Consultation de votre dossier médical partagé",
    }
    assert all(f"RPPS {rpps}" in m.get_content() for m in mails)


def test_one_trace_id_across_gateway_services_and_events(system: Running, api: Api) -> None:
    http = system.http
    ins, _, doctor = api.dossier_with_consenting_doctor("tracing@patients.dmp-test.fr")
    added = http.post(
        f"/api/v1/patients/{ins}/documents", json=document(b"%PDF-1.4 trace"), headers=doctor
    )
    assert added.status_code == 201
    # notify already holds the patient's contact (the consent mail fetched it): no identity hop here
    deposit = {"dmp-gateway", "dmp-dossier", "dmp-consent", "dmp-audit", "dmp-notify"}
    assert eventually(lambda: services_in_trace(system, "POST", "/documents", deposit), seconds=30)
    # a login code goes gateway -> identity -> notify (the code's mail) under one trace too; a patient
    # who has just logged in (no code pending, so none is throttled) asks for one
    signed_in, _ = api.patient("tracing-login@patients.dmp-test.fr")
    asked = http.post("/api/v1/login/patient/code", json={"ins": signed_in, "channel": "email"})
    assert asked.status_code == 202
    login = {"dmp-gateway", "dmp-identity", "dmp-notify"}
    assert eventually(
        lambda: services_in_trace(system, "POST", "/login/patient/code", login), seconds=30
    )
    spans = system.collector.snapshot()
    for span in spans:  # no personal data in any span: not the INS, not the email, not the title
        for value in [span.name, *span.attributes.values()]:
            assert (
                ins not in value and "@patients" not in value and "Consultation du" not in value
            ), span


def services_in_trace(system: Running, method: str, path_end: str, needed: set[str]) -> set[str]:
    """The services in the trace of the gateway's last `method ...path_end` span, once all of `needed`."""
    spans = system.collector.snapshot()
    roots = [
        s
        for s in spans
        if s.service == "dmp-gateway"
        and s.name.startswith(f"{method} /api/v1/")
        and s.name.endswith(path_end)
    ]
    if not roots:
        return set()
    services = {s.service for s in spans if s.trace_id == roots[-1].trace_id}
    return services if needed <= services else set()


@pytest.mark.parametrize(
    "path, body, status, field",
    [
        ("/api/v1/patients", {**registration(), "ins": "180017512345600"}, 422, "ins"),
        ("/api/v1/patients", registration(sex="M"), 422, "sex"),
        ("/api/v1/patients", {"given_name": "A"}, 422, "ins"),
        (
            "/api/v1/professionals",
            {"rpps": "10000000001", "profession": "10", "given_name": "A", "family_name": "B"},
            422,
            "rpps",
        ),
        ("/api/v1/dev/tokens", {"kind": "insurer"}, 422, "kind"),
        ("/api/v1/login/patient/code", {"ins": "180017512345600"}, 422, "ins"),
        ("/api/v1/login/patient/token", {"ins": "180017512345660", "code": "12a456"}, 422, "code"),
        (
            "/api/v1/login/card/token",
            {"actor_id": "rpps:10000000009", "nonce": "x" * 20},
            422,
            "signature",
        ),
    ],
)
def test_bad_enrolment_and_login_input_answers_422_naming_the_field(
    system: Running, path: str, body: dict[str, str], status: int, field: str
) -> None:
    response = system.http.post(path, json=body)
    assert response.status_code == status
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in problem["errors"]]
    assert "Traceback" not in response.text


def test_deposit_errors_are_clear_and_store_nothing(system: Running, api: Api) -> None:
    http = system.http
    ins, patient, doctor = api.dossier_with_consenting_doctor("errors@patients.dmp-test.fr")
    url = f"/api/v1/patients/{ins}/documents"

    assert http.post(url, json=document(PDF)).status_code == 401  # no token
    forged = {"Authorization": "Bearer eyJhbGciOiJFZERTQSJ9.e30.AAAA"}
    assert http.post(url, json=document(PDF), headers=forged).status_code == 401
    missing = {k: v for k, v in document(PDF).items() if k != "title"}
    response = http.post(url, json=missing, headers=doctor)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "title"
    unknown = http.post(url, json={**document(PDF), "colour": "red"}, headers=doctor)
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "colour"
    oversized = http.post(url, json=document(b"%PDF-" + b"x" * (21 * 1024 * 1024)), headers=doctor)
    assert oversized.status_code == 413
    bad_ins = http.get("/api/v1/patients/123/documents", headers=doctor)
    assert bad_ins.status_code == 422 and bad_ins.json()["errors"][0]["field"] == "ins"
    unknown_patient = http.get(f"/api/v1/patients/{make_ins()}/documents", headers=doctor)
    assert unknown_patient.status_code == 404
    assert http.get(url, headers=patient).json()["documents"] == []


def test_login_refusals_over_http(system: Running, api: Api) -> None:
    http = system.http
    ins, _ = api.patient("refusals@patients.dmp-test.fr")
    wrong = http.post("/api/v1/login/patient/token", json={"ins": ins, "code": "000000"})
    assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"] == "Bearer"
    rpps, _ = api.professional("10")
    nonce = http.post("/api/v1/login/card/challenge", json={"actor_id": f"rpps:{rpps}"}).json()[
        "nonce"
    ]
    forged = http.post(
        "/api/v1/login/card/token",
        json={"actor_id": f"rpps:{rpps}", "nonce": nonce, "signature": Card().sign(nonce)},
    )
    assert forged.status_code == 401 and "signature" in forged.json()["detail"]
    unknown = make_ins()
    for _ in range(5):
        assert http.post("/api/v1/login/patient/code", json={"ins": unknown}).status_code == 202
    limited = http.post("/api/v1/login/patient/code", json={"ins": unknown})
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0


def test_patient_session_refresh_and_logout_over_http(
    system: Running, api: Api, secrets: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    http = system.http
    email = "session@patients.dmp-test.fr"
    ins = api.register_patient(email)
    session = api.session(ins, email)
    renewed = http.post("/api/v1/login/refresh", json={"refresh_token": session["refresh_token"]})
    assert renewed.status_code == 200
    access = renewed.json()["access_token"]
    headers = {"Authorization": f"Bearer {access}"}
    token = renewed.json()["refresh_token"]
    assert http.get(f"/api/v1/patients/{ins}/access-settings", headers=headers).status_code == 200
    assert (
        http.post("/api/v1/logout", json={"refresh_token": token}, headers=headers).status_code
        == 204
    )
    assert http.post("/api/v1/login/refresh", json={"refresh_token": token}).status_code == 401
    # The access token is refused at once: at the gateway, and by every service over RPC.
    refused = http.get(f"/api/v1/patients/{ins}/access-settings", headers=headers)
    assert refused.status_code == 401 and "ended" in refused.json()["detail"]
    client = system.stack.principal_uris[
        "gateway"
    ]  # as a client service calling with the user's token
    monkeypatch.setenv(
        SIGNING_KEY, secrets[signing_variable("gateway")]
    )  # signing as the gateway does
    with (
        RpcClient(uri=client, timeout=10, keys=Settings.load().bus_keys) as cluster,
        pytest.raises(Unauthenticated),
    ):
        cluster.dossier.status(access, ins)
    keys = http.get("/.well-known/jwks.json").json()["keys"]
    assert keys and keys[0]["alg"] == "EdDSA"


def test_access_rules_journey(system: Running, api: Api) -> None:
    """A cardiologist is denied a masked document that the médecin traitant reads; an emergency access
    is notified; a blocked professional is refused, with the reason in French on request."""
    http = system.http
    email = "regles@patients.dmp-test.fr"
    ins, patient, author = api.dossier_with_consenting_doctor(email)
    rpps_mt, mt = api.professional("10")
    rpps_cardio, cardiologist = api.professional("10")
    proposed = http.post(
        f"/api/v1/patients/{ins}/medecin-traitant", json={"patient_agreed": True}, headers=mt
    )
    assert proposed.status_code == 202 and proposed.json()["status"] == "proposed"
    confirmed = http.post(
        f"/api/v1/patients/{ins}/medecin-traitant/confirm",
        json={"professional_id": f"rpps:{rpps_mt}"},
        headers=patient,
    )
    assert (
        confirmed.status_code == 200 and confirmed.json()["medecin_traitant"] == f"rpps:{rpps_mt}"
    )
    assert http.post(f"/api/v1/patients/{ins}/consents", headers=cardiologist).status_code == 201
    document_id = http.post(
        f"/api/v1/patients/{ins}/documents", json=document(b"%PDF-1.4 psy"), headers=author
    ).json()["document_id"]
    masked = http.put(
        f"/api/v1/patients/{ins}/documents/{document_id}/visibility",
        json={"masked": True},
        headers=patient,
    )
    assert masked.status_code == 200 and masked.json()["visibility"] == ["MASQUE_PS"]

    assert (
        http.get(
            f"/api/v1/patients/{ins}/documents/{document_id}", headers=cardiologist
        ).status_code
        == 404
    )
    assert http.get(f"/api/v1/patients/{ins}/documents", headers=cardiologist).json()["total"] == 0
    by_mt = http.get(f"/api/v1/patients/{ins}/documents/{document_id}", headers=mt)
    assert by_mt.status_code == 200 and by_mt.json()["access"]["rule"] == "R-MEDECIN-TRAITANT"

    _, urgentist = api.professional("10")
    emergency = http.post(
        f"/api/v1/patients/{ins}/emergency-access",
        json={"reason": "patient inconscient aux urgences"},
        headers=urgentist,
    )
    assert emergency.status_code == 201 and emergency.json()["emergency"] is True
    listed = http.get(f"/api/v1/patients/{ins}/documents", headers=urgentist).json()
    assert listed["access"]["emergency"] is True
    assert system.mailbox.wait_for(email, 1, "urgence")

    assert (
        http.post(
            f"/api/v1/patients/{ins}/blocks",
            json={"professional_id": f"rpps:{rpps_cardio}"},
            headers=patient,
        ).status_code
        == 200
    )
    refused = http.get(
        f"/api/v1/patients/{ins}/documents", headers={**cardiologist, "Accept-Language": "fr-FR"}
    )
    assert refused.status_code == 403 and refused.json()["errors"] == [{"rule": "R-BLOCKED"}]
    assert refused.json()["detail"] == "le patient a bloqué ce professionnel"
    blocking_mt = http.post(
        f"/api/v1/patients/{ins}/blocks",
        json={"professional_id": f"rpps:{rpps_mt}"},
        headers=patient,
    )
    assert blocking_mt.status_code == 409 and blocking_mt.json()["errors"] == [
        {"rule": "R-BLOCK-MT"}
    ]


def test_idempotent_deposit_and_protective_headers(system: Running, api: Api) -> None:
    http = system.http
    ins, _, doctor = api.dossier_with_consenting_doctor("idem@patients.dmp-test.fr")
    headers = {**doctor, "Idempotency-Key": "vendor-upload-000123"}
    first = http.post(
        f"/api/v1/patients/{ins}/documents", json=document(b"%PDF-1.4 idem"), headers=headers
    )
    again = http.post(
        f"/api/v1/patients/{ins}/documents", json=document(b"%PDF-1.4 idem"), headers=headers
    )
    assert first.status_code == again.status_code == 201
    assert again.json()["document_id"] == first.json()["document_id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    for name in (
        "X-Request-ID",
        "Strict-Transport-Security",
        "X-Frame-Options",
        "Content-Security-Policy",
    ):
        assert name in first.headers
