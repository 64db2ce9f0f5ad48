"""The patient's whole journey through the web pages, in a real browser (Debian's Chromium driven by
Playwright), against the whole system started as `make run` starts it. Each page is screenshotted
into var/artifacts/pages and checked for missing labels, contrast and fit on a phone screen."""

import random
import re
import struct
import time
import uuid
import zlib
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from deploy.local.smsbox import newest_code
from tests.e2e.browser import PHONE, check, problems
from tests.identities import registration
from tests.system import Api, Running, document

pytestmark = pytest.mark.slow

PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj "
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 300 300]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF"
)
CDA = (
    b'<ClinicalDocument xmlns="urn:hl7-org:v3"><title>Compte rendu de consultation</title>'
    b'<effectiveTime value="20261120"/><component><structuredBody><component><section><title>Motif</title>'
    b"<text><paragraph>Toux depuis dix jours.</paragraph><list><item>Fatigue</item></list></text></section>"
    b"</component></structuredBody></component></ClinicalDocument>"
)


def png(width: int = 4, height: int = 3) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    rows = b"".join(b"\x00" + b"\xcc\x22\x22" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def mobile() -> str:
    return "+336" + "".join(random.choices("0123456789", k=8))


@pytest.fixture
def patient(api: Api) -> dict[str, str]:
    details = registration(email=f"{uuid.uuid4().hex[:12]}@patients.dmp-test.fr", mobile=mobile())
    assert api.http.post("/api/v1/patients", json=details).status_code == 201
    return details


def log_in(page: Page, system: Running, patient: dict[str, str]) -> None:
    """Through the login pages with a code received by SMS."""
    page.goto(f"{system.stack.gateway_url}/patient/")
    expect(page).to_have_url(re.compile(r"/patient/login$"))
    page.get_by_label("Identifiant national de santé (INS)").fill(patient["ins"])
    page.get_by_label("SMS").check()
    page.get_by_role("button", name="Recevoir un code").click()
    expect(page.get_by_role("heading", name="Saisissez votre code")).to_be_visible()
    code = wait_for_code(system, patient["mobile"])
    page.get_by_label("Code à 6 chiffres").fill(code)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", name="Mes documents")).to_be_visible()


def wait_for_code(system: Running, to: str) -> str:
    for _ in range(200):
        code = newest_code(system.stack.var / "sms", to)
        if code is not None:
            return code
        time.sleep(0.1)
    raise AssertionError(f"no code texted to {to}")


def notice(page: Page, text: str) -> None:
    expect(page.get_by_role("status").filter(has_text=text)).to_be_visible()


def titles(http: httpx.Client, ins: str, headers: dict[str, str]) -> list[str]:
    found = http.get(f"/api/v1/patients/{ins}/documents", headers=headers)
    assert found.status_code == 200, found.text
    return [d["title"] for d in found.json()["documents"]]


def deposit(
    http: httpx.Client, ins: str, headers: dict[str, str], raw: bytes, **fields: Any
) -> str:
    created = http.post(
        f"/api/v1/patients/{ins}/documents", headers=headers, json=document(raw, **fields)
    )
    assert created.status_code == 201, created.text
    return str(created.json()["document_id"])


@pytest.mark.timeout(420)  # the stack's start and some sixty pages, on a shared 2-core machine
def test_a_patient_manages_their_record_through_the_pages(
    system: Running,
    api: Api,
    chromium: Browser,
    patient: dict[str, str],
) -> None:
    http, ins = system.http, patient["ins"]
    context = chromium.new_context(locale="fr-FR", viewport=PHONE)
    context.set_default_timeout(20_000)
    page = context.new_page()

    # Login: a wrong INS is refused on the field, in French; then the code comes by SMS.
    page.goto(f"{system.stack.gateway_url}/")
    expect(page).to_have_url(re.compile(r"/patient/login$"))
    check(page, "01-login")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"  # the keyboard's first stop
    page.get_by_label("Identifiant national de santé (INS)").fill("1234")
    page.get_by_role("button", name="Recevoir un code").click()
    field = page.get_by_label("Identifiant national de santé (INS)")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_text("L'INS comporte 15 caractères")).to_be_visible()
    check(page, "02-login-error")
    log_in(page, system, patient)

    # No dossier yet: the patient opens it.
    expect(page.get_by_text("Vous n'avez pas encore de dossier médical partagé.")).to_be_visible()
    page.get_by_role("button", name="Ouvrir mon dossier").click()
    notice(page, "Votre dossier est ouvert.")

    # A doctor deposits; one result awaits its announcement consultation; the patient adds a photo.
    _, doctor = api.professional("10")
    assert http.post(f"/api/v1/patients/{ins}/consents", headers=doctor).status_code == 201
    pdf_id = deposit(http, ins, doctor, PDF, title="Consultation du 20 novembre")
    cda_id = deposit(http, ins, doctor, CDA, title="Compte rendu CDA", format="text/xml")
    deposit(
        http,
        ins,
        doctor,
        b"Paracetamol 1 g, 3 fois par jour",
        title="Ordonnance",
        category="42",
        format="text/plain",
        type_code="57833-6",
    )
    deposit(
        http,
        ins,
        doctor,
        PDF,
        title="Résultat en attente d'annonce",
        visibility=["INVISIBLE_PATIENT"],
    )
    own = api.token({"kind": "patient", "ins": ins})
    image_id = deposit(
        http,
        ins,
        own,
        png(),
        title="Photo de ma carte de groupe sanguin",
        category="90",
        format="image/png",
        type_code="photo",
    )

    # The overview groups by category, newest first, without the invisible result.
    page.reload()
    expect(page.get_by_text("4 document(s)")).to_be_visible()
    for heading in (
        "Compte rendu (2)",
        "Prescription (1)",
        "Autres documents déposés par le patient (1)",
    ):
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
    expect(page.get_by_text("Résultat en attente d'annonce")).to_have_count(0)
    check(page, "03-overview")
    page.set_viewport_size({"width": 1100, "height": 760})
    page.goto(f"{system.stack.gateway_url}/patient/dossier")
    check(page, "03-overview-desktop")  # the README's screenshot comes from here
    page.set_viewport_size(PHONE)

    # A PDF shows inline; its bytes are the deposited ones.
    page.get_by_role("link", name="Consultation du 20 novembre").click()
    expect(page.locator("iframe.pdf")).to_have_attribute("title", "Consultation du 20 novembre")
    served = page.request.get(f"{system.stack.gateway_url}/patient/documents/{pdf_id}/content")
    assert served.status == 200 and served.body() == PDF
    assert served.headers["content-type"] == "application/pdf"
    check(page, "04-document-pdf")

    # A CDA reads as sections; an image shows.
    page.goto(f"{system.stack.gateway_url}/patient/documents/{cda_id}")
    expect(page.get_by_role("heading", name="Motif")).to_be_visible()
    expect(page.get_by_text("Toux depuis dix jours.")).to_be_visible()
    check(page, "05-document-cda")
    page.goto(f"{system.stack.gateway_url}/patient/documents/{image_id}")
    image = page.get_by_role("img", name="Photo de ma carte de groupe sanguin")
    expect(image).to_be_visible()
    assert image.evaluate("img => img.naturalWidth") == 4

    # Masking hides the document from another professional with consent, not from its author.
    other_rpps, other = api.professional("10")
    assert http.post(f"/api/v1/patients/{ins}/consents", headers=other).status_code == 201
    page.goto(f"{system.stack.gateway_url}/patient/documents/{pdf_id}")
    page.get_by_role("button", name="Masquer aux professionnels").click()
    notice(page, "Le document est masqué aux professionnels.")
    assert "Consultation du 20 novembre" not in titles(http, ins, other)
    assert "Consultation du 20 novembre" in titles(http, ins, doctor)
    page.get_by_role("button", name="Ne plus masquer").click()
    notice(page, "Le document n'est plus masqué.")
    assert "Consultation du 20 novembre" in titles(http, ins, other)

    # Personal space: a wrong phone number is shown on its field; nothing is saved until it is right.
    page.get_by_role("link", name="Mon espace personnel").click()
    page.get_by_label("Groupe sanguin").select_option("O+")
    page.locator("#allergies-0-substance").fill("Pénicilline")
    page.locator("#allergies-0-severity").select_option("severe")
    page.locator("#emergency_contacts-0-name").fill("Paul")
    page.locator("#emergency_contacts-0-phone").fill("06 12")
    page.get_by_label("J'y consens").check()
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.locator("#emergency_contacts-0-phone")).to_have_attribute("aria-invalid", "true")
    check(page, "06-personal-space-error")
    assert http.get(f"/api/v1/patients/{ins}/personal-space", headers=own).json()["version"] == 0
    page.locator("#emergency_contacts-0-phone").fill("+33612345678")
    page.get_by_role("button", name="Enregistrer").click()
    notice(page, "Votre espace personnel est enregistré.")
    check(page, "07-personal-space")
    space = http.get(f"/api/v1/patients/{ins}/personal-space", headers=own).json()
    assert (
        space["content"]["blood_group"] == "O+" and space["content"]["organ_donation"] == "consents"
    )
    assert space["content"]["allergies"] == [
        {"substance": "Pénicilline", "reaction": None, "severity": "severe"}
    ]
    assert space["content"]["emergency_contacts"][0]["phone"] == "+33612345678"

    # Who accessed my record: filtered by action.
    page.get_by_role("link", name="Qui a consulté mon dossier").click()
    expect(page.get_by_role("cell", name=re.compile(r"^Médecin rpps:")).first).to_be_visible()
    page.get_by_label("Action").select_option("document_added")
    page.get_by_role("button", name="Afficher").click()
    rows = page.locator("table.history tbody tr")
    expect(rows).to_have_count(
        4
    )  # three by the doctor, one by the patient: the invisible result is not told
    check(page, "08-history")
    assert all("Ajout d'un document" in row for row in rows.all_inner_texts())

    # Settings: block and unblock, oppose emergency access, choose notifications.
    page.get_by_role("link", name="Mes réglages").click()
    page.get_by_label("Identifiant du professionnel à bloquer").fill(f"rpps:{other_rpps}")
    page.get_by_role("button", name="Bloquer").click()
    notice(page, "Le professionnel est bloqué.")
    assert http.get(f"/api/v1/patients/{ins}/documents", headers=other).status_code == 403
    check(page, "09-settings")
    page.get_by_role("button", name=f"Débloquer rpps:{other_rpps}").click()
    notice(page, "Le professionnel est débloqué.")
    assert http.get(f"/api/v1/patients/{ins}/documents", headers=other).status_code == 200
    page.get_by_label("Je m'oppose à l'accès d'urgence").check()
    page.locator("form[action$='/settings/emergency'] button").click()
    notice(page, "Vos choix pour l'urgence sont enregistrés.")
    assert (
        http.get(f"/api/v1/patients/{ins}/access-settings", headers=own).json()["oppose_emergency"]
        is True
    )
    page.get_by_label("SMS", exact=True).check()
    page.get_by_label("Un résumé par jour").check()
    page.locator("form[action$='/settings/notifications'] button").click()
    notice(page, "Vos préférences de notification sont enregistrées.")
    preferences = http.get(f"/api/v1/patients/{ins}/notification-preferences", headers=own).json()
    assert (preferences["channels"], preferences["routine"]) == ("sms", "daily_digest")

    # English is one link away, and stays chosen.
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", name="My settings")).to_be_visible()
    page.get_by_role("link", name="My documents").click()
    expect(page.get_by_role("heading", name="My documents")).to_be_visible()
    check(page, "10-overview-english")
    page.get_by_role("link", name="Français").click()

    # Close (confirmed), reopen, then ask for deletion.
    page.get_by_role("link", name="Fermer ou supprimer").click()
    page.get_by_role("link", name="Fermer mon dossier…").click()
    expect(page.get_by_text("Il est conservé 10 ans puis effacé")).to_be_visible()
    check(page, "11-close-confirmation")
    page.get_by_role("button", name="Oui, fermer mon dossier").click()
    notice(page, "Votre dossier est fermé.")
    assert http.get(f"/api/v1/patients/{ins}/documents", headers=doctor).status_code == 403
    page.get_by_role("link", name="Mes documents").click()
    expect(
        page.get_by_text("Votre dossier est fermé : son contenu est inaccessible.")
    ).to_be_visible()
    page.get_by_role("link", name="Rouvrir mon dossier").click()
    page.get_by_role("link", name="Rouvrir mon dossier…").click()
    page.get_by_role("button", name="Oui, rouvrir mon dossier").click()
    notice(page, "Votre dossier est rouvert.")
    assert "Compte rendu CDA" in titles(http, ins, doctor)
    page.get_by_role("link", name="Demander la suppression de mon dossier…").click()
    expect(page.get_by_text("C'est définitif")).to_be_visible()
    page.get_by_role("button", name="Oui, supprimer définitivement mon dossier").click()
    notice(page, "La suppression de votre dossier est demandée.")
    expect(page.get_by_text("suppression demandée")).to_be_visible()
    check(page, "12-deletion-requested")
    assert http.get(f"/api/v1/patients/{ins}/documents/{cda_id}", headers=own).status_code == 403

    # Logging out ends the session: the pages send the visitor back to the login page.
    page.get_by_role("button", name="Se déconnecter").click()
    notice(page, "Vous êtes déconnecté.")
    page.goto(f"{system.stack.gateway_url}/patient/dossier")
    expect(page).to_have_url(re.compile(r"/patient/login$"))
    context.close()


def test_pages_refuse_a_form_posted_without_its_token(
    system: Running, api: Api, patient: dict[str, str]
) -> None:
    """Another site cannot post for the patient: the form token must match the patient's cookie."""
    session = api.session(patient["ins"], patient["email"])
    cookies = {"dmp_access": session["access_token"], "dmp_csrf": "the-right-token"}
    with httpx.Client(base_url=system.stack.gateway_url, cookies=cookies) as browser_like:
        assert browser_like.get("/patient/dossier").status_code == 200
        forged = browser_like.post("/patient/dossier/open", data={"csrf": "another"})
        assert forged.status_code == 403 and "Le formulaire a expiré" in forged.text
        own = api.token({"kind": "patient", "ins": patient["ins"]})
        assert (
            api.http.get(f"/api/v1/patients/{patient['ins']}/dossier", headers=own).status_code
            == 404
        )
        accepted = browser_like.post("/patient/dossier/open", data={"csrf": "the-right-token"})
        assert accepted.status_code == 303
        assert (
            api.http.get(f"/api/v1/patients/{patient['ins']}/dossier", headers=own).json()["status"]
            == "open"
        )


def test_pages_without_a_session_lead_to_the_login_page(system: Running) -> None:
    with httpx.Client(base_url=system.stack.gateway_url) as anonymous:
        for path in (
            "/patient/dossier",
            "/patient/history",
            "/patient/settings",
            "/patient/documents/doc_x",
        ):
            answer = anonymous.get(path)
            assert answer.status_code == 303 and answer.headers["location"] == "/patient/login", (
                path
            )
        forged = anonymous.get("/patient/dossier", cookies={"dmp_access": "not.a.token"})
        assert forged.status_code == 303


def test_the_page_checks_find_what_they_look_for(chromium: Browser) -> None:
    """The label, contrast and fit checks fail on a page that deserves it."""
    page = chromium.new_page(viewport=PHONE)
    page.set_content(
        '<html><head><title>t</title></head><body><h1>x</h1><input name="ins">'
        '<p style="color:#aaa">pale</p><img src="x.png"><div style="width:900px">wide</div></body></html>'
    )
    found = problems(page)
    page.close()
    assert any('input "ins" has no label' in p for p in found)
    assert any(p.startswith("contrast") for p in found)
    assert "img without alt" in found and "html without lang" in found
    assert any(p.startswith("wider than the screen") for p in found)
