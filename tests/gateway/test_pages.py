"""The patient pages' pure parts: forms to payloads, errors to words, CDA to readable blocks."""

import base64
import re
from pathlib import Path

import pytest

from services.audit.labels import LABELS
from services.common.events import EventType
from services.gateway.pages import forms
from services.gateway.pages.i18n import CATEGORIES_EN, TEXTS, choose, text
from services.gateway.pages.viewers import read_cda

TEMPLATES = Path(__file__).parents[2] / "services" / "gateway" / "pages" / "templates"

CDA = b"""<ClinicalDocument xmlns="urn:hl7-org:v3">
  <title>Compte rendu de consultation</title><effectiveTime value="20261120143000+0100"/>
  <author><assignedAuthor><assignedPerson><name><prefix>Dr</prefix><given>Alice</given><family>Martin</family>
  </name></assignedPerson></assignedAuthor></author>
  <component><structuredBody>
    <component><section><title>Motif</title><text>Toux <content>depuis 10 jours</content>.
      <list><item>Fievre 38</item><item>Fatigue</item></list>
      <table><thead><tr><th>Examen</th><th>Valeur</th></tr></thead><tbody><tr><td>CRP</td><td>12</td></tr></tbody></table>
    </text>
    <component><section><title>Antecedents</title><text><paragraph>Asthme</paragraph></text></section></component>
    </section></component>
  </structuredBody></component>
</ClinicalDocument>"""


def test_a_structured_cda_reads_as_titled_sections_of_text() -> None:
    view = read_cda(CDA)
    assert view is not None
    assert view.title == "Compte rendu de consultation"
    assert view.effective == "2026-11-20"
    assert view.authors == ["Dr Alice Martin"]
    assert [(s.title, s.level) for s in view.sections] == [("Motif", 1), ("Antecedents", 2)]
    motif = view.sections[0].blocks
    assert motif[0].kind == "paragraph" and motif[0].text == "Toux"
    assert any(b.kind == "list" and b.items == ["Fievre 38", "Fatigue"] for b in motif)
    assert any(b.kind == "table" and b.rows == [["Examen", "Valeur"], ["CRP", "12"]] for b in motif)
    assert view.sections[1].blocks[0].text == "Asthme"


def test_a_level_1_cda_gives_back_the_document_it_carries() -> None:
    pdf = b"%PDF-1.4 a report"
    cda = (
        b'<ClinicalDocument xmlns="urn:hl7-org:v3"><component><nonXMLBody><text mediaType="application/pdf" '
        b'representation="B64">'
        + base64.b64encode(pdf)
        + b"</text></nonXMLBody></component></ClinicalDocument>"
    )
    view = read_cda(cda)
    assert view is not None and view.embedded == pdf and view.embedded_type == "application/pdf"


@pytest.mark.parametrize(
    "content",
    [
        b"not xml",
        b"<html/>",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><ClinicalDocument xmlns="urn:hl7-org:v3">&a;'
        b"</ClinicalDocument>",
    ],
)
def test_what_is_not_a_safe_cda_is_not_rendered(content: bytes) -> None:
    assert read_cda(content) is None


def test_sections_nested_without_end_stop_at_a_depth() -> None:
    section = b"<section><title>deepest</title></section>"
    for _ in range(50):
        section = b"<section><title>s</title><component>" + section + b"</component></section>"
    view = read_cda(
        b'<ClinicalDocument xmlns="urn:hl7-org:v3"><component><structuredBody><component>'
        + section
        + b"</component></structuredBody></component></ClinicalDocument>"
    )
    assert view is not None and len(view.sections) == 6


def test_the_personal_space_form_becomes_the_api_payload_without_empty_rows() -> None:
    content, version = forms.personal_space(
        {
            "csrf": "x",
            "version": "3",
            "blood_group": "O+",
            "allergies-0-substance": "Pénicilline",
            "allergies-0-reaction": "",
            "allergies-0-severity": "severe",
            "allergies-1-substance": "",
            "allergies-1-reaction": "",
            "allergies-1-severity": "",
            "pathologies-0": "Asthme",
            "pathologies-1": " ",
            "treatments-0-name": "Ventoline",
            "treatments-0-dosage": "",
            "treatments-0-since": "2020-01-02",
            "emergency_contacts-0-name": "Paul",
            "emergency_contacts-0-relation": "frère",
            "emergency_contacts-0-phone": "+33612345678",
            "trusted_person-name": "",
            "trusted_person-phone": "",
            "trusted_person-email": "",
            "advance_directives-written": "on",
            "advance_directives-kept_by": "",
            "organ_donation": "consents",
        }
    )
    assert version == 3
    assert content == {
        "blood_group": "O+",
        "allergies": [{"substance": "Pénicilline", "reaction": None, "severity": "severe"}],
        "pathologies": ["Asthme"],
        "treatments": [{"name": "Ventoline", "dosage": None, "since": "2020-01-02"}],
        "emergency_contacts": [{"name": "Paul", "relation": "frère", "phone": "+33612345678"}],
        "trusted_person": None,
        "advance_directives": {"written": True, "kept_by": None},
        "organ_donation": "consents",
    }


def test_the_form_shows_stored_rows_and_blank_ones_for_additions() -> None:
    shown = forms.rows_for(
        {"allergies": [{"substance": "Latex", "reaction": None, "severity": None}]}
    )
    assert shown["allergies"][0] == {"substance": "Latex", "reaction": "", "severity": ""}
    assert len(shown["allergies"]) == 1 + forms.BLANK_ROWS
    assert len(shown["treatments"]) == forms.BLANK_ROWS


def test_field_errors_name_the_input_in_the_patients_words() -> None:
    details = [
        {"field": "content.emergency_contacts.0.phone", "reason": "String should match pattern"},
        {"field": "content.allergies.1.substance", "reason": "Field required"},
        {"field": "ins", "reason": "the INS key does not match"},
    ]
    french = forms.field_errors("fr", details)
    assert french["emergency_contacts-0-phone"].startswith("Numéro de mobile")
    assert french["allergies-1-substance"] == "Ce champ est obligatoire."
    assert "15 caractères" in french["ins"]
    assert forms.field_errors("en", details)["allergies-1-substance"] == "This field is required."


def test_every_text_has_french_and_english() -> None:
    for key, (french, english) in TEXTS.items():
        assert french.strip() and english.strip(), key
    assert set(CATEGORIES_EN) >= {"10", "11", "31", "42", "60", "90"}


def test_every_text_a_template_names_exists() -> None:
    used = set()
    for template in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"""\bt\(\s*["']([a-z_.]+)["']""", template.read_text()))
    assert used, "the scan found no texts: the pattern no longer matches the templates"
    assert sorted(key for key in used if key not in TEXTS and not key.endswith((".", "_"))) == []


def test_language_is_french_unless_english_is_asked_for() -> None:
    assert choose(None, None, None) == "fr"
    assert choose(None, None, "de-DE,de;q=0.9") == "fr"
    assert choose(None, None, "en-GB,en;q=0.9") == "en"
    assert choose(None, "fr", "en-GB") == "fr"  # the patient's own choice wins over the browser
    assert choose("en", "fr", None) == "en"
    assert choose("xx", None, None) == "fr"
    assert text("en", "overview.count", count=2) == "2 document(s)"


def test_every_event_type_has_a_label_in_both_languages() -> None:
    assert [event.value for event in EventType if event.value not in LABELS] == []
