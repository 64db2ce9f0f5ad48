"""National code lists shared by every service (sources: ../shared/reference/codes.md).

- TRE_G15 ProfessionSante (OID 1.2.250.1.71.1.2.7): profession codes of health professionals.
- TRE_A03 ClasseDocument (OID 1.2.250.1.213.1.1.4.1): document categories (classCode).
"""

from __future__ import annotations

INS_SYSTEM = "urn:oid:1.2.250.1.213.1.4.8"

PROFESSIONS: dict[str, str] = {
    "10": "Médecin",
    "21": "Pharmacien",
    "26": "Audioprothésiste",
    "28": "Opticien-Lunetier",
    "31": "Assistant dentaire",
    "32": "Physicien médical",
    "40": "Chirurgien-Dentiste",
    "50": "Sage-Femme",
    "60": "Infirmier",
    "69": "Infirmier psychiatrique",
    "70": "Masseur-Kinésithérapeute",
    "80": "Pédicure-Podologue",
    "81": "Orthoprothésiste",
    "82": "Podo-Orthésiste",
    "83": "Orthopédiste-Orthésiste",
    "84": "Oculariste",
    "85": "Epithésiste",
    "86": "Technicien de laboratoire médical",
    "91": "Orthophoniste",
    "92": "Orthoptiste",
    "94": "Ergothérapeute",
    "95": "Diététicien",
    "96": "Psychomotricien",
    "98": "Manipulateur ERM",
}

CATEGORIES: dict[str, str] = {
    "10": "Compte rendu",
    "11": "Synthèse",
    "31": "Imagerie médicale",
    "42": "Prescription",
    "43": "Dispensation",
    "44": "Plan de soins, protocole de soins",
    "45": "Traitement administré",
    "52": "Certificat, déclaration",
    "60": "Données de remboursement",
    "90": "Autres documents déposés par le patient",
    "95": "Document de gestion",
}

# LOINC document types of the CI-SIS / DMP offered by the professional pages' deposit form: the active codes
# of TRE_A04-Loinc as read in ../shared/reference/codes.md §3 (a partial extract). The API takes any type code.
DOCUMENT_TYPES: dict[str, str] = {
    "11488-4": "Compte rendu ou fiche de consultation ou de visite",
    "11490-0": "Lettre de liaison à la sortie d'un établissement de soins",
    "11502-2": "Compte rendu d'examens biologiques",
    "11505-5": "Compte rendu d'acte thérapeutique",
    "11506-3": "Compte rendu ou fiche de suivi de soins par auxiliaire médical",
    "11526-1": "Compte rendu d'anatomie et de cytologie pathologiques",
    "15507-7": "Compte rendu de passage aux urgences",
    "15508-5": "Compte rendu d'accouchement",
    "18748-4": "Compte rendu d'imagerie médicale",
    "18761-7": "Note de transfert",
    "18776-5": "Plan personnalisé de soins",
    "29274-8": "Mesures de signes vitaux",
}

# Document formats accepted at deposit (MIME type -> name). Images only in the patient's own class 90.
FORMATS: dict[str, str] = {
    "application/pdf": "PDF",
    "text/plain": "plain text",
    "application/fhir+json": "FHIR JSON",
    "text/xml": "CDA R2 XML (level 1 or 3)",
    "image/jpeg": "JPEG image",
    "image/png": "PNG image",
}
