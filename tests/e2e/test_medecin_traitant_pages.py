"""Issue 17, item 1, on the patient pages: a médecin's proposal grants nothing until the patient
confirms it on the settings page ("confirm Dr X as my médecin traitant"), in a real browser."""

import uuid

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.browser import PHONE, check
from tests.e2e.test_patient_pages import log_in, mobile, notice
from tests.identities import registration
from tests.system import Api, Running

pytestmark = pytest.mark.slow


def test_the_patient_confirms_a_proposed_medecin_traitant_on_the_settings_page(
    system: Running,
    api: Api,
    chromium: Browser,
) -> None:
    http = system.http
    details = registration(
        email=f"mt-{uuid.uuid4().hex[:10]}@patients.dmp-test.fr", mobile=mobile()
    )
    assert http.post("/api/v1/patients", json=details).status_code == 201
    ins = details["ins"]
    own = {"Authorization": f"Bearer {api.session(ins, details['email'])['access_token']}"}
    assert http.post("/api/v1/dossiers", json={"ins": ins}, headers=own).status_code == 201
    rpps, doctor = api.professional("10")
    proposed = http.post(
        f"/api/v1/patients/{ins}/medecin-traitant", json={"patient_agreed": True}, headers=doctor
    )
    assert proposed.status_code == 202 and proposed.json()["status"] == "proposed"
    assert (
        http.get(f"/api/v1/patients/{ins}/documents", headers=doctor).status_code == 403
    )  # nothing granted

    context = chromium.new_context(locale="fr-FR", viewport=PHONE)
    context.set_default_timeout(20_000)
    page = context.new_page()
    log_in(page, system, details)
    page.get_by_role("link", name="Mes réglages").click()
    confirm = page.get_by_role("button", name=f"Confirmer rpps:{rpps} comme mon médecin traitant")
    expect(confirm).to_be_visible()
    check(page, "mt-01-proposal")
    confirm.click()
    notice(page, "Votre médecin traitant est enregistré.")
    settings = http.get(f"/api/v1/patients/{ins}/access-settings", headers=own).json()
    assert (
        settings["medecin_traitant"] == f"rpps:{rpps}"
        and settings["medecin_traitant_proposals"] == []
    )
    assert http.get(f"/api/v1/patients/{ins}/documents", headers=doctor).status_code == 200
    expect(
        page.get_by_role("button", name=f"Confirmer rpps:{rpps} comme mon médecin traitant")
    ).to_have_count(0)
    context.close()
