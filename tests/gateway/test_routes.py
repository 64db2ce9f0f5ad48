"""Each router, through HTTP, with a fake of the one service it calls: what the route hands the service and
what it answers (status, headers, the body exactly as the service gave it)."""

from __future__ import annotations

import base64

from tests.gateway.conftest import DOCTOR, INS, PATIENT, RPPS, Calls, Gateway
from tests.identities import registration
from tests.journeys import PDF, submission

NOW = "2026-11-20T09:30:00.123456+00:00"  # as the services write instants: kept as they are, not rewritten


def test_enrolment_registers_a_patient_with_the_body_as_sent(gateway: Gateway) -> None:
    gateway.cluster.identity = identity = Calls(register_patient={"patient_id": "pat_1"})
    details = registration()
    answer = gateway.client.post("/api/v1/patients", json=details)
    assert (answer.status_code, answer.json()) == (201, {"patient_id": "pat_1"})
    assert identity.calls == [
        ("register_patient", ({**details, "mobile": None, "language": "fr"},))
    ]


def test_login_exchanges_a_code_for_a_token_naming_the_client_address(gateway: Gateway) -> None:
    issued = {
        "access_token": "a" * 40,
        "token_type": "Bearer",
        "expires_in": 900,
        "refresh_token": "r" * 40,
        "refresh_expires_in": 3600,
    }
    gateway.cluster.identity = identity = Calls(login_with_code=issued)
    answer = gateway.client.post("/api/v1/login/patient/token", json={"ins": INS, "code": "123456"})
    assert (answer.status_code, answer.json()) == (200, issued)
    assert identity.calls == [("login_with_code", ({"ins": INS, "code": "123456"}, "testclient"))]


def test_a_contact_change_answers_that_a_code_was_sent(gateway: Gateway) -> None:
    gateway.cluster.identity = Calls(
        request_contact_change={"status": "code_sent", "expires_in": 300}
    )
    answer = gateway.client.post(
        f"/api/v1/patients/{INS}/contact",
        json={"email": "new@patients.dmp-test.fr"},
        headers=gateway.bearer(PATIENT),
    )
    assert (answer.status_code, answer.json()) == (202, {"status": "code_sent", "expires_in": 300})


def test_closing_a_dossier_says_when_it_is_purged_and_reopening_does_not(gateway: Gateway) -> None:
    gateway.cluster.dossier = Calls(
        close={"dossier_id": "dos_1", "status": "closed", "purge_at": NOW},
        reopen={"dossier_id": "dos_1", "status": "open"},
    )
    closed = gateway.client.post(
        f"/api/v1/patients/{INS}/dossier/close", headers=gateway.bearer(PATIENT)
    )
    reopened = gateway.client.post(
        f"/api/v1/patients/{INS}/dossier/reopen", headers=gateway.bearer(PATIENT)
    )
    assert closed.json() == {"dossier_id": "dos_1", "status": "closed", "purge_at": NOW}
    assert reopened.json() == {"dossier_id": "dos_1", "status": "open"}


def test_the_personal_space_history_lists_every_version(gateway: Gateway) -> None:
    versions = [{"content": {"blood_group": "O+"}, "version": 2}, {"content": {}, "version": 1}]
    gateway.cluster.dossier = Calls(personal_space_history=versions)
    answer = gateway.client.get(
        f"/api/v1/patients/{INS}/personal-space/history", headers=gateway.bearer(PATIENT)
    )
    assert [(v["version"], v["content"]["blood_group"]) for v in answer.json()] == [
        (2, "O+"),
        (1, None),
    ]


def test_reimbursement_lines_pass_through_with_the_page_asked_for(gateway: Gateway) -> None:
    lines = {
        "lines": [{"line_id": "l-1", "care_date": "2026-11-02", "billed_cents": 2500}],
        "total": 1,
        "next_cursor": None,
    }
    gateway.cluster.dossier = dossier = Calls(reimbursements=lines)
    answer = gateway.client.get(
        f"/api/v1/patients/{INS}/reimbursements?limit=10", headers=gateway.bearer(DOCTOR)
    )
    assert answer.json() == lines
    assert dossier.calls[0][1][1:] == (INS, {"limit": 10, "cursor": None})


def test_a_replayed_deposit_says_so_in_a_header(gateway: Gateway) -> None:
    metadata = {
        "document_id": "doc_1",
        "dossier_id": "dos_1",
        "category": "10",
        "type_code": "11488-4",
        "title": "Consultation",
        "care_date": "2026-11-20",
        "created_at": "2026-11-20T09:30:00Z",
        "format": "application/pdf",
        "size": len(PDF),
        "sha256": "0" * 64,
        "status": "current",
        "author": {"id": DOCTOR.id},
    }
    gateway.cluster.dossier = dossier = Calls(add_document={**metadata, "replayed": True})
    answer = gateway.client.post(
        f"/api/v1/patients/{INS}/documents",
        json=submission(),
        headers={**gateway.bearer(DOCTOR), "Idempotency-Key": "k-1"},
    )
    assert (answer.status_code, answer.headers["Idempotent-Replayed"]) == (201, "true")
    assert answer.json()["document_id"] == "doc_1" and "replayed" not in answer.json()
    assert dossier.calls[0][1][3] == "k-1"


def test_a_documents_content_comes_as_its_bytes_with_its_format(gateway: Gateway) -> None:
    gateway.cluster.dossier = Calls(
        read_document={
            "document": {"format": "application/pdf"},
            "content": base64.b64encode(PDF).decode(),
        }
    )
    answer = gateway.client.get(
        f"/api/v1/patients/{INS}/documents/doc_1/content", headers=gateway.bearer(DOCTOR)
    )
    assert (answer.content, answer.headers["content-type"]) == (PDF, "application/pdf")


def test_a_proposed_medecin_traitant_is_202_and_a_declared_one_201(gateway: Gateway) -> None:
    proposed = {"status": "proposed", "professional_id": DOCTOR.id, "proposed_at": NOW}
    declared = {"status": "declared", "medecin_traitant": DOCTOR.id, "previous": None, "since": NOW}
    for answered, status in ((proposed, 202), (declared, 201)):
        gateway.cluster.consent = Calls(declare_medecin_traitant=answered)
        answer = gateway.client.post(
            f"/api/v1/patients/{INS}/medecin-traitant", json={}, headers=gateway.bearer(DOCTOR)
        )
        assert (answer.status_code, answer.json()) == (status, answered)


def test_access_settings_keep_every_field_consent_gives(gateway: Gateway) -> None:
    who = [{"professional_id": DOCTOR.id, "since": NOW}]
    settings = {
        "medecin_traitant": DOCTOR.id,
        "blocked": [f"rpps:{RPPS}0"],
        "medecin_traitant_proposals": [],
        "oppose_emergency": False,
        "oppose_regulator": True,
        "consents": who,
        "care_team": [],
        "occupational_consents": who,
    }
    gateway.cluster.consent = Calls(settings=settings)
    answer = gateway.client.get(
        f"/api/v1/patients/{INS}/access-settings", headers=gateway.bearer(PATIENT)
    )
    assert answer.json() == settings


def test_notification_preferences_are_the_patients(gateway: Gateway) -> None:
    preferences = {"channels": "both", "routine": "daily_digest", "language": "en"}
    gateway.cluster.notify = notify = Calls(set_preferences=preferences)
    answer = gateway.client.put(
        f"/api/v1/patients/{INS}/notification-preferences",
        json=preferences,
        headers=gateway.bearer(PATIENT),
    )
    assert answer.json() == preferences
    assert notify.calls[0][1][1:] == (INS, preferences)


def test_the_fhir_history_is_audits_bundle_unchanged(gateway: Gateway) -> None:
    event = {
        "resourceType": "AuditEvent",
        "id": "evt-1",
        "action": "R",
        "recorded": NOW,
        "outcomeDesc": "R-CONSENT",
    }
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "total": 7,
        "entry": [{"resource": event}],
    }
    gateway.cluster.audit = audit = Calls(history=bundle)
    answer = gateway.client.get(
        f"/api/v1/patients/{INS}/history/fhir?limit=1", headers=gateway.bearer(PATIENT)
    )
    assert answer.json() == bundle
    assert audit.calls[0][1][2]["format"] == "fhir"


def test_the_gateway_says_it_is_healthy_and_publishes_its_keys(gateway: Gateway) -> None:
    assert gateway.client.get("/health").json() == {"status": "ok"}
    (key,) = gateway.client.get("/.well-known/jwks.json").json()["keys"]
    assert (key["kid"], key["alg"]) == (gateway.key.kid, "EdDSA")
