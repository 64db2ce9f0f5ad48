"""Issue 22: a doctor with only a browser, through the professional pages (/pro), in Debian's Chromium against
the whole system started as `make run` starts it, local OpenID Connect provider included: login through the
provider, find the patient (a mismatch shows nothing), record consent, read the dossier and the care summary;
each step checked against the API, each page checked for labels, contrast and fit on a phone screen."""

import base64
import json
import re
import uuid
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.browser import PHONE, check
from tests.e2e.test_patient_pages import CDA, PDF, deposit, mobile, notice
from tests.identities import registration
from tests.system import Api, Running

pytestmark = pytest.mark.slow


def context_for(chromium: Browser) -> BrowserContext:
    context = chromium.new_context(locale="fr-FR", viewport=PHONE)
    context.set_default_timeout(20_000)
    return context


def log_in(page: Page, system: Running, rpps: str, checked: bool = False) -> None:
    """Through the local OpenID Connect provider's login form, as a professional would through PSC."""
    page.goto(f"{system.stack.gateway_url}/pro/")
    expect(page).to_have_url(re.compile(r"/pro/login$"))
    if checked:
        check(page, "pro-01-login")
    page.get_by_role("button", name="Se connecter avec Pro Santé Connect").click()
    assert system.stack.oidc_url is not None
    expect(page).to_have_url(re.compile(re.escape(system.stack.oidc_url) + "/authorize"))
    page.get_by_label("Autre numéro RPPS (11 chiffres)").fill(rpps)
    page.get_by_role("button", name="Se connecter", exact=True).click()
    expect(page.get_by_role("heading", name="Trouver un patient")).to_be_visible()


def find(page: Page, ins: str, family_name: str, birth_date: str) -> None:
    page.get_by_label("Identifiant national de santé (INS)").fill(ins)
    page.get_by_label("Nom de naissance").fill(family_name)
    page.get_by_label("Date de naissance").fill(birth_date)
    page.get_by_role("button", name="Vérifier l'identité").click()


def patient_with_dossier(
    system: Running,
    api: Api,
    name: str,
    mobile: str | None = None,
) -> tuple[dict[str, str], dict[str, str]]:
    """(registration details, the patient's own headers) of a new patient whose dossier is open."""
    http = system.http
    email = f"{name}-{uuid.uuid4().hex[:10]}@patients.dmp-test.fr"
    details = registration(email=email, mobile=mobile) if mobile else registration(email=email)
    assert http.post("/api/v1/patients", json=details).status_code == 201
    own = {
        "Authorization": f"Bearer {api.session(details['ins'], details['email'])['access_token']}"
    }
    assert (
        http.post("/api/v1/dossiers", json={"ins": details["ins"]}, headers=own).status_code == 201
    )
    return details, own


@pytest.mark.timeout(420)
def test_a_doctor_finds_a_patient_records_consent_and_reads_the_dossier_through_the_pages(
    system: Running,
    api: Api,
    chromium: Browser,
) -> None:
    http = system.http
    details, own = patient_with_dossier(system, api, "pro", mobile=mobile())
    ins = details["ins"]
    space = http.put(
        f"/api/v1/patients/{ins}/personal-space",
        headers=own,
        json={
            "version": 0,
            "content": {
                "blood_group": "O+",
                "allergies": [{"substance": "Pénicilline", "severity": "severe"}],
            },
        },
    )
    assert space.status_code == 200, space.text
    rpps, doctor = api.professional("10")  # the same professional, by card for the API checks

    page = context_for(chromium).new_page()
    log_in(page, system, rpps, checked=True)
    check(page, "pro-02-search")

    # Identity traits first: a wrong family name shows nothing of the patient.
    find(page, ins, "Durand", details["birth_date"])
    expect(page.get_by_role("alert").filter(has_text="Aucun patient ne correspond")).to_be_visible()
    assert "Camille" not in page.content()
    check(page, "pro-03-mismatch")
    find(page, ins, "MARTIN", details["birth_date"])
    expect(page.get_by_role("heading", name="Patient vérifié")).to_be_visible()
    expect(page.get_by_text("Camille MARTIN")).to_be_visible()
    check(page, "pro-04-patient")

    # No consent yet: the dossier is a refusal page naming the rule, as the API refuses.
    assert http.get(f"/api/v1/patients/{ins}/documents", headers=doctor).status_code == 403
    page.get_by_role("link", name="Dossier", exact=True).first.click()
    expect(page.get_by_text("le patient n'a pas autorisé ce professionnel")).to_be_visible()
    check(page, "pro-05-refused")

    # Consent is an explicit action: without ticking the box nothing is recorded.
    page.get_by_role("link", name="Patient", exact=True).click()
    page.get_by_role("button", name="Enregistrer le consentement").click()
    expect(page.get_by_text("Cochez cette case si le patient a consenti.")).to_be_visible()
    assert http.get(f"/api/v1/patients/{ins}/documents", headers=doctor).status_code == 403
    page.get_by_label("Le patient m'a donné son consentement").check()
    page.get_by_role("button", name="Enregistrer le consentement").click()
    notice(page, "Le consentement du patient est enregistré.")
    assert http.get(f"/api/v1/patients/{ins}/documents", headers=doctor).status_code == 200
    authorised = http.get(f"/api/v1/patients/{ins}/access-settings", headers=own).json()
    assert f"rpps:{rpps}" in str(authorised)

    # Documents deposited by the API; one masked by the patient is hidden from this doctor as from the API.
    _, colleague = api.professional("10")
    assert http.post(f"/api/v1/patients/{ins}/consents", headers=colleague).status_code == 201
    deposit(http, ins, doctor, PDF, title="Consultation du 20 novembre")
    cda_id = deposit(http, ins, doctor, CDA, title="Compte rendu CDA", format="text/xml")
    deposit(
        http,
        ins,
        doctor,
        b"Paracetamol 1 g",
        title="Ordonnance",
        category="42",
        format="text/plain",
        type_code="57833-6",
    )
    masked_id = deposit(http, ins, colleague, PDF, title="Document masqué par le patient")
    assert (
        http.put(
            f"/api/v1/patients/{ins}/documents/{masked_id}/visibility",
            headers=own,
            json={"masked": True},
        ).status_code
        == 200
    )
    listed = http.get(f"/api/v1/patients/{ins}/documents", headers=doctor).json()
    assert listed["total"] == 3

    page.get_by_role("link", name="Dossier", exact=True).first.click()
    expect(page.get_by_role("heading", name="Espace personnel du patient")).to_be_visible()
    expect(page.get_by_text("Pénicilline")).to_be_visible()
    expect(page.get_by_text(f"{listed['total']} document(s)")).to_be_visible()
    for heading in ("Compte rendu (2)", "Prescription (1)"):
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
    expect(page.get_by_text("Document masqué par le patient")).to_have_count(0)
    check(page, "pro-06-dossier")
    page.get_by_label("Catégorie").select_option("42")
    page.get_by_role("button", name="Filtrer").click()
    expect(page.get_by_text("1 document(s)")).to_be_visible()
    expect(page.get_by_role("heading", name="Compte rendu (2)")).to_have_count(0)
    page.get_by_label("Catégorie").select_option("")
    page.get_by_role("button", name="Filtrer").click()
    page.get_by_role("link", name="Compte rendu CDA").click()
    expect(page.get_by_role("heading", name="Motif")).to_be_visible()
    expect(page).to_have_url(re.compile(f"/pro/documents/{cda_id}$"))
    check(page, "pro-07-document")

    # The care summary, as the API gives it.
    summary = http.get(f"/api/v1/patients/{ins}/summary", headers=doctor).json()
    page.get_by_role("link", name="Synthèse de soins").click()
    expect(page.get_by_role("heading", name=re.compile("^Synthèse de soins"))).to_be_visible()
    expect(page.get_by_text("Pénicilline")).to_be_visible()
    assert [item["allergies"] for item in [summary]] == [
        [{"substance": "Pénicilline", "reaction": None, "severity": "severe"}]
    ]
    for item in summary["latest_documents"]:
        expect(page.get_by_role("link", name=item["document"]["title"])).to_be_visible()
    check(page, "pro-08-summary")

    # Logging out ends the session: the pages ask for a login again.
    page.get_by_role("button", name="Se déconnecter").click()
    expect(page).to_have_url(re.compile(r"/pro/login\?done=logged_out$"))
    page.goto(f"{system.stack.gateway_url}/pro/dossier")
    expect(page).to_have_url(re.compile(r"/pro/login$"))
    page.context.close()


def test_an_answer_that_belongs_to_no_login_of_this_browser_is_a_page_not_a_500(
    system: Running,
) -> None:
    with httpx.Client(base_url=system.stack.gateway_url, timeout=30) as browser:
        for query in ({"state": "x" * 30, "code": "y" * 30}, {"error": "access_denied"}, {}):
            answer = browser.get("/pro/login/callback", params=query)
            assert answer.status_code == 400 and "text/html" in answer.headers["content-type"], (
                answer.text
            )
            assert "Aucune connexion n&#39;était en cours" in answer.text
            assert "default-src 'none'" in answer.headers["content-security-policy"]


def test_an_unregistered_professional_is_refused_by_identity_with_a_page(
    system: Running,
    chromium: Browser,
) -> None:
    page = context_for(chromium).new_page()
    page.goto(f"{system.stack.gateway_url}/pro/login")
    page.get_by_role("button", name="Se connecter avec Pro Santé Connect").click()
    page.get_by_label("Autre numéro RPPS (11 chiffres)").fill("10000000009")
    page.get_by_role("button", name="Se connecter", exact=True).click()
    expect(
        page.get_by_role("alert").filter(
            has_text="L'identité transmise par le fournisseur a été refusée"
        )
    ).to_be_visible()
    expect(page.get_by_text("not registered here")).to_be_visible()
    check(page, "pro-09-login-refused")
    page.context.close()


def test_a_checked_patient_cookie_made_up_in_the_browser_shows_nothing(
    system: Running,
    api: Api,
    chromium: Browser,
) -> None:
    """The pages keep the traits the professional typed in, and have identity check them on every page: a
    cookie naming a patient with traits never checked (or wrong ones) leads back to the search."""
    details = registration(email=f"forge-{uuid.uuid4().hex[:10]}@patients.dmp-test.fr")
    assert system.http.post("/api/v1/patients", json=details).status_code == 201
    rpps, _ = api.professional("10")
    page = context_for(chromium).new_page()
    log_in(page, system, rpps)
    for traits in (
        {"ins": details["ins"], "family_name": "Durand", "birth_date": details["birth_date"]},
        {"ins": details["ins"]},
    ):
        forged = base64.urlsafe_b64encode(json.dumps(traits).encode()).decode()
        page.context.add_cookies(
            [{"name": "dmp_pro_patient", "value": forged, "url": system.stack.gateway_url}]
        )
        page.goto(f"{system.stack.gateway_url}/pro/patient")
        expect(page.get_by_role("heading", name="Trouver un patient")).to_be_visible()
        assert details["given_name"] not in page.content() and details["ins"] not in page.content()
    page.context.close()


def test_a_doctor_adds_a_document_through_the_pages_with_its_metadata(
    system: Running,
    api: Api,
    chromium: Browser,
    tmp_path: Path,
) -> None:
    """The deposit form sends what the API takes, and what the API refuses is a page naming the field."""
    http = system.http
    details, _ = patient_with_dossier(system, api, "depot")
    ins = details["ins"]
    rpps, doctor = api.professional("10")
    assert http.post(f"/api/v1/patients/{ins}/consents", headers=doctor).status_code == 201
    page = context_for(chromium).new_page()
    log_in(page, system, rpps)
    find(page, ins, details["family_name"], details["birth_date"])
    page.get_by_role("link", name="Déposer un document").first.click()
    expect(page.get_by_role("heading", name="Déposer un document")).to_be_visible()
    check(page, "pro-10-deposit")

    # nothing chosen: every missing piece is named, nothing is stored
    page.get_by_role("button", name="Déposer", exact=True).click()
    expect(page.get_by_text("Choisissez le fichier à déposer.")).to_be_visible()
    expect(page.locator("#title-error")).to_be_visible()
    check(page, "pro-11-deposit-errors")
    assert http.get(f"/api/v1/patients/{ins}/documents", headers=doctor).json()["total"] == 0

    not_a_document = tmp_path / "notes.txt"
    not_a_document.write_bytes(b"just some text")
    page.set_input_files("#file", str(not_a_document))
    page.get_by_label("Titre du document").fill("Bilan")
    page.get_by_role("button", name="Déposer", exact=True).click()
    expect(page.get_by_text("Ce fichier n'est ni un PDF ni un document CDA R2.")).to_be_visible()

    report = tmp_path / "compte-rendu.pdf"
    report.write_bytes(PDF)
    page.set_input_files("#file", str(report))
    page.get_by_label("Titre du document").fill("Compte rendu de consultation")
    page.get_by_label("Classe du document").select_option("10")
    page.get_by_label("Type de document").select_option("11488-4")
    page.get_by_label("Date de l'acte").fill("2026-11-30")
    page.get_by_label("Restreinte", exact=True).check()
    page.get_by_label("Invisible pour les représentants légaux").check()
    page.get_by_role("button", name="Déposer", exact=True).click()
    expect(page.get_by_text("Le document a été déposé dans le dossier.")).to_be_visible()
    check(page, "pro-12-deposited")

    listed = http.get(f"/api/v1/patients/{ins}/documents", headers=doctor).json()["documents"]
    assert len(listed) == 1, listed
    stored = listed[0]
    assert (stored["category"], stored["type_code"], stored["care_date"], stored["format"]) == (
        "10",
        "11488-4",
        "2026-11-30",
        "application/pdf",
    )
    assert stored["confidentiality"] == "R" and stored["visibility"] == [
        "INVISIBLE_REPRESENTANTS_LEGAUX"
    ]
    assert stored["author"]["id"] == f"rpps:{rpps}"
    # its author sees the traces of their document (not the dossier's whole history: not médecin traitant)
    page.get_by_role("link", name="Traces").first.click()
    expect(
        page.get_by_role("heading", name="Traces du dossier que vous pouvez voir")
    ).to_be_visible()
    traces = page.locator("table.history")
    for _ in range(20):  # audit writes the trace from the deposit's event
        if traces.get_by_text("Ajout d'un document").count():
            break
        page.wait_for_timeout(500)
        page.reload()
    expect(traces.get_by_text("Ajout d'un document").first).to_be_visible()
    assert (
        traces.get_by_text("Ouverture du dossier").count() == 0
    )  # the patient's own act is not the author's
    check(page, "pro-14-traces")
    page.context.close()


def test_an_emergency_access_opens_the_dossier_for_an_hour_under_a_banner(
    system: Running,
    api: Api,
    chromium: Browser,
) -> None:
    http = system.http
    details, _ = patient_with_dossier(system, api, "urgence")
    ins = details["ins"]
    rpps, doctor = api.professional("10")
    assert (
        http.get(f"/api/v1/patients/{ins}/documents", headers=doctor).status_code == 403
    )  # no consent
    page = context_for(chromium).new_page()
    log_in(page, system, rpps)
    find(page, ins, details["family_name"], details["birth_date"])
    page.get_by_label("Motif (10 caractères au moins)").fill("malaise")
    page.get_by_role("button", name="Accéder en urgence").click()
    expect(page.locator("#reason-error")).to_be_visible()  # too short: said, nothing opened
    assert http.get(f"/api/v1/patients/{ins}/documents", headers=doctor).status_code == 403
    page.get_by_label("Motif (10 caractères au moins)").fill("patient inconscient aux urgences")
    page.get_by_role("button", name="Accéder en urgence").click()
    expect(page.get_by_text("Accès en urgence ouvert pour une heure.")).to_be_visible()
    expect(
        page.get_by_text(re.compile(r"Accès en urgence, jusqu'au \d{4}-\d\d-\d\d \d\d:\d\d"))
    ).to_be_visible()
    check(page, "pro-13-emergency")
    answer = http.get(f"/api/v1/patients/{ins}/documents", headers=doctor)
    assert answer.status_code == 200 and answer.json()["access"]["emergency"], answer.text
    page.context.close()


@pytest.mark.timeout(300)
def test_a_doctor_opens_the_dossier_and_proposes_themselves_as_medecin_traitant_the_patient_confirms(
    system: Running,
    api: Api,
    chromium: Browser,
) -> None:
    """With the patient's agreement ticked (else nothing is done and the box is named), the doctor opens the
    patient's dossier and proposes themselves; the patient's confirmation makes them the médecin traitant."""
    http = system.http
    email = f"ouverture-{uuid.uuid4().hex[:10]}@patients.dmp-test.fr"
    details = registration(email=email)
    assert http.post("/api/v1/patients", json=details).status_code == 201
    ins = details["ins"]
    own = {"Authorization": f"Bearer {api.session(ins, email)['access_token']}"}
    assert http.get(f"/api/v1/patients/{ins}/dossier", headers=own).status_code == 404  # none yet
    rpps, _ = api.professional("10")

    page = context_for(chromium).new_page()
    log_in(page, system, rpps)
    find(page, ins, details["family_name"], details["birth_date"])
    page.get_by_role("button", name="Ouvrir le dossier").click()
    expect(page.locator("#open_agreed-error")).to_have_text(
        "Cochez cette case si le patient accepte l'ouverture."
    )
    assert http.get(f"/api/v1/patients/{ins}/dossier", headers=own).status_code == 404
    page.get_by_label("Le patient accepte l'ouverture de son dossier").check()
    page.get_by_role("button", name="Ouvrir le dossier").click()
    notice(page, "Le dossier du patient est ouvert.")
    assert http.get(f"/api/v1/patients/{ins}/dossier", headers=own).json()["status"] == "open"

    page.get_by_role("button", name="Me proposer comme médecin traitant").click()
    expect(page.locator("#mt_agreed-error")).to_be_visible()
    page.get_by_label("Le patient me choisit comme médecin traitant").check()
    page.get_by_role("button", name="Me proposer comme médecin traitant").click()
    notice(page, "Votre proposition est enregistrée : le patient la confirme dans son espace.")
    check(page, "pro-15-medecin-traitant-proposed")
    confirmed = http.post(
        f"/api/v1/patients/{ins}/medecin-traitant/confirm",
        headers=own,
        json={"professional_id": f"rpps:{rpps}"},
    )
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["medecin_traitant"] == f"rpps:{rpps}"
    page.context.close()


@pytest.mark.timeout(300)
def test_a_samu_regulator_sees_read_only_pages_and_reads_in_an_emergency(
    system: Running,
    api: Api,
    chromium: Browser,
) -> None:
    """No consent, deposit or proposal is offered to the regulator; the deposit page is the refusal naming the
    rule; an emergency access opens the dossier to read, as consent grants it (read only)."""
    from tests.identities import Card, make_rpps

    http = system.http
    details, _ = patient_with_dossier(system, api, "samu")
    ins = details["ins"]
    _, doctor = api.professional("10")
    assert http.post(f"/api/v1/patients/{ins}/consents", headers=doctor).status_code == 201
    deposit(http, ins, doctor, PDF + b" samu")
    rpps = make_rpps()
    registered = http.post(
        "/api/v1/professionals",
        json={
            "rpps": rpps,
            "profession": "10",
            "given_name": "Sam",
            "family_name": "Roux",
            "roles": ["samu_regulator"],
            "card_public_key": Card().public_pem,
        },
    )
    assert registered.status_code == 201, registered.text

    page = context_for(chromium).new_page()
    log_in(page, system, rpps)
    find(page, ins, details["family_name"], details["birth_date"])
    expect(
        page.get_by_text("Médecin régulateur du SAMU : vous lisez le dossier en urgence")
    ).to_be_visible()
    for offered in (
        "Enregistrer le consentement",
        "Ouvrir le dossier",
        "Me proposer comme médecin traitant",
    ):
        expect(page.get_by_role("button", name=offered)).to_have_count(0)
    expect(page.get_by_role("link", name="Déposer un document")).to_have_count(0)
    check(page, "pro-16-regulator")
    page.goto(f"{system.stack.gateway_url}/pro/deposit")
    expect(
        page.get_by_text("régulateur du SAMU en urgence : lecture seule")
    ).to_be_visible()  # the rule, named

    page.goto(f"{system.stack.gateway_url}/pro/patient")
    page.get_by_label("Motif (10 caractères au moins)").fill("appel au 15, patient inconscient")
    page.get_by_role("button", name="Accéder en urgence").click()
    expect(page.get_by_text("Accès en urgence ouvert pour une heure.")).to_be_visible()
    expect(page.locator("a[href*='/pro/documents/']").first).to_be_visible()
    page.context.close()
