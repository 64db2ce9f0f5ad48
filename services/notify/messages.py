"""Who is told what, in plain words and without health content: who did what, when, and where to
see the access history. French by default, English on request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.common.codes import PROFESSIONS
from services.common.events import Event, EventType

PATIENT = "patient"
AUTHOR = "author"  # the professional who deposited a document
MEDECIN_TRAITANT = "medecin_traitant"
PREVIOUS_MEDECIN_TRAITANT = "previous_medecin_traitant"  # told that they no longer are

TEXTS = {
    "fr": {
        EventType.DOCUMENT_ADDED: (
            "Nouveau document dans votre dossier médical partagé",
            "{who} a ajouté un document à votre dossier médical partagé le {when}.",
        ),
        EventType.FIRST_ACCESS: (
            "Consultation de votre dossier médical partagé",
            "{who} a consulté votre dossier médical partagé pour la première fois le {when}.",
        ),
        EventType.EMERGENCY_ACCESS_STARTED: (
            "Accès d'urgence à votre dossier médical partagé",
            "{who} a accédé en urgence (bris de glace) à votre dossier médical partagé le {when}. "
            "Cet accès est limité dans le temps et tracé.",
        ),
        EventType.DOCUMENT_RELEASED: (
            "Nouveau document dans votre dossier médical partagé",
            "Un document de votre dossier médical partagé vous est désormais visible (le {when}).",
        ),
        EventType.INVISIBILITY_REMINDER_DUE: (
            "Rappel : document encore invisible pour le patient",
            "Le document {document} que vous avez déposé est toujours invisible pour le patient. Il le "
            "deviendra automatiquement un mois après son dépôt ; rendez-le visible après la consultation "
            "d'annonce.",
        ),
        EventType.CONSENT_RECORDED: (
            "Accès à votre dossier : consentement enregistré par un professionnel",
            "{who} a enregistré le {when} votre consentement à son accès à votre dossier médical partagé. "
            "Si vous n'êtes pas d'accord, retirez ce consentement ou bloquez ce professionnel dans vos réglages.",
        ),
        EventType.CARE_TEAM_JOINED: (
            "Accès à votre dossier : un professionnel a rejoint votre équipe de soins",
            "{who} a rejoint votre équipe de soins le {when} et peut consulter votre dossier médical partagé. "
            "Vous pouvez vous y opposer ou le bloquer dans vos réglages.",
        ),
        EventType.MEDECIN_TRAITANT_PROPOSED: (
            "Un médecin propose d'être votre médecin traitant",
            "{who} propose le {when} de devenir votre médecin traitant. Rien ne change tant que vous ne l'avez "
            "pas confirmé dans vos réglages.",
        ),
        EventType.MEDECIN_TRAITANT_DECLARED: (
            "Votre médecin traitant a changé",
            "Depuis le {when}, votre médecin traitant est le médecin RPPS {mt}. Si ce n'est pas votre choix, "
            "changez-le dans vos réglages.",
        ),
        EventType.MEDECIN_TRAITANT_ENDED: (
            "Vous n'avez plus de médecin traitant",
            "Depuis le {when}, le médecin RPPS {previous} n'est plus votre médecin traitant.",
        ),
        "who": "Un professionnel de santé ({profession}, RPPS {rpps})",
        "footer": "Voir qui a accédé à votre dossier : {url}\n\nCe message est envoyé automatiquement.",
    },
    "en": {
        EventType.DOCUMENT_ADDED: (
            "New document in your shared medical record",
            "{who} added a document to your shared medical record on {when}.",
        ),
        EventType.FIRST_ACCESS: (
            "Your shared medical record was consulted",
            "{who} consulted your shared medical record for the first time on {when}.",
        ),
        EventType.EMERGENCY_ACCESS_STARTED: (
            "Emergency access to your shared medical record",
            "{who} accessed your shared medical record in an emergency (break glass) on {when}. "
            "This access is limited in time and traced.",
        ),
        EventType.DOCUMENT_RELEASED: (
            "New document in your shared medical record",
            "A document in your shared medical record is now visible to you (on {when}).",
        ),
        EventType.INVISIBILITY_REMINDER_DUE: (
            "Reminder: a document is still invisible to the patient",
            "The document {document} you deposited is still invisible to the patient. It will become visible "
            "one month after its deposit; release it after the announcement consultation.",
        ),
        EventType.CONSENT_RECORDED: (
            "Access to your record: consent recorded by a professional",
            "{who} recorded on {when} your consent to their access to your shared medical record. If you do "
            "not agree, withdraw this consent or block this professional in your settings.",
        ),
        EventType.CARE_TEAM_JOINED: (
            "Access to your record: a professional joined your care team",
            "{who} joined your care team on {when} and may consult your shared medical record. You may object "
            "or block them in your settings.",
        ),
        EventType.MEDECIN_TRAITANT_PROPOSED: (
            "A doctor proposes to be your médecin traitant",
            "{who} proposed on {when} to become your médecin traitant. Nothing changes until you confirm it in "
            "your settings.",
        ),
        EventType.MEDECIN_TRAITANT_DECLARED: (
            "Your médecin traitant changed",
            "Since {when}, your médecin traitant is the doctor RPPS {mt}. If this is not your choice, change it "
            "in your settings.",
        ),
        EventType.MEDECIN_TRAITANT_ENDED: (
            "You no longer have a médecin traitant",
            "Since {when}, the doctor RPPS {previous} is no longer your médecin traitant.",
        ),
        "who": "A health professional ({profession}, RPPS {rpps})",
        "footer": "See who accessed your record: {url}\n\nThis message is sent automatically.",
    },
}


MT_TEXTS = {  # to the médecin traitant, about their patient (identified by the dossier, not by name)
    "fr": {
        EventType.EMERGENCY_ACCESS_STARTED: (
            "Accès d'urgence au dossier d'un de vos patients",
            "{who} a accédé en urgence (bris de glace) au dossier médical partagé de l'un de vos patients le {when} "
            "(référence {reference}, à retrouver dans votre logiciel).",
        )
    },
    "en": {
        EventType.EMERGENCY_ACCESS_STARTED: (
            "Emergency access to one of your patients' records",
            "{who} accessed the shared medical record of one of your patients in an emergency on {when} "
            "(reference {reference}, to look up in your software).",
        )
    },
}


NO_LONGER_MT = {
    "fr": (
        "Vous n'êtes plus le médecin traitant d'un de vos patients",
        "Depuis le {when}, vous n'êtes plus le médecin traitant de l'un de vos patients (référence {reference}, "
        "à retrouver dans votre logiciel).",
    ),
    "en": (
        "You are no longer the médecin traitant of one of your patients",
        "Since {when}, you are no longer the médecin traitant of one of your patients (reference {reference}, "
        "to look up in your software).",
    ),
}
PREVIOUS_MT_TEXTS = {  # to the médecin traitant who no longer is, about their former patient
    language: {EventType.MEDECIN_TRAITANT_DECLARED: text, EventType.MEDECIN_TRAITANT_ENDED: text}
    for language, text in NO_LONGER_MT.items()
}
ROLE_TEXTS = {MEDECIN_TRAITANT: MT_TEXTS, PREVIOUS_MEDECIN_TRAITANT: PREVIOUS_MT_TEXTS}


@dataclass(frozen=True)
class Message:
    subject: str
    body: str


def recipients(event: Event) -> list[tuple[str, str]]:
    """Who is told of this event: (PATIENT, "") and professionals (role, professional id). The patient
    hears of what professionals do (not of their own actions), and of a new document only once it is
    visible to them; an emergency access is also told to the médecin traitant. Whatever changes who may
    access the dossier is told to the patient: a consent recorded or a care team joined by a professional,
    a médecin's proposal to be médecin traitant, and every change of médecin traitant (whoever made it,
    the patient's side included: a representative may have acted), which the previous one hears of too."""
    by_professional = event.actor is not None and event.actor.kind == "professional"
    if event.type is EventType.DOCUMENT_ADDED:
        visible = event.data.get("invisible_to_patient") != "true"
        return [(PATIENT, "")] if by_professional and visible else []
    if event.type is EventType.FIRST_ACCESS:
        return [(PATIENT, "")] if by_professional else []
    if event.type is EventType.EMERGENCY_ACCESS_STARTED:
        mt = event.data.get("medecin_traitant", "")
        return [(PATIENT, ""), *([(MEDECIN_TRAITANT, mt)] if mt else [])]
    if event.type is EventType.DOCUMENT_RELEASED:
        return [(PATIENT, "")]
    if event.type in (EventType.CONSENT_RECORDED, EventType.CARE_TEAM_JOINED):
        return [(PATIENT, "")] if by_professional else []
    if event.type is EventType.MEDECIN_TRAITANT_PROPOSED:
        return [(PATIENT, "")]
    if event.type in (EventType.MEDECIN_TRAITANT_DECLARED, EventType.MEDECIN_TRAITANT_ENDED):
        previous = event.data.get("previous", "")
        return [(PATIENT, ""), *([(PREVIOUS_MEDECIN_TRAITANT, previous)] if previous else [])]
    if event.type is EventType.INVISIBILITY_REMINDER_DUE:
        return [(AUTHOR, event.data.get("author_id", ""))]
    return []


# may wait for the daily digest
ROUTINE = {
    EventType.DOCUMENT_ADDED,
    EventType.DOCUMENT_RELEASED,
    EventType.CONSENT_RECORDED,
    EventType.CARE_TEAM_JOINED,
}
DIGEST = {
    "fr": (
        "Votre dossier médical partagé : résumé du {day}",
        "Ce qui s'est passé dans votre dossier le {day} :",
    ),
    "en": (
        "Your shared medical record: summary of {day}",
        "What happened in your record on {day}:",
    ),
}


def is_routine(event: Event) -> bool:
    return event.type in ROUTINE


def digest(events: list[Event], language: str, portal_url: str) -> Message:
    """One message for a day's routine events, each in one line."""
    day = events[0].occurred_at.strftime("%d/%m/%Y")
    subject, intro = DIGEST.get(language, DIGEST["fr"])
    lines = [f"- {compose(event, language, portal_url).body.split(chr(10))[0]}" for event in events]
    footer = str(TEXTS.get(language, TEXTS["fr"])["footer"]).format(
        url=f"{portal_url.rstrip('/')}/"
    )
    return Message(
        subject=subject.format(day=day),
        body="\n".join([intro.format(day=day), *lines, "", footer, ""]),
    )


def compose(event: Event, language: str, portal_url: str, whom: str = PATIENT) -> Message:
    texts: dict[Any, Any] = dict(TEXTS.get(language, TEXTS["fr"]))
    if whom in ROLE_TEXTS:
        texts.update(ROLE_TEXTS[whom].get(language, ROLE_TEXTS[whom]["fr"]))
    who = ""
    if event.actor is not None:
        profession = PROFESSIONS.get(event.actor.profession or "", "professionnel de santé")
        who = str(texts["who"]).format(
            profession=profession, rpps=event.actor.id.removeprefix("rpps:")
        )
    when = event.occurred_at.strftime("%d/%m/%Y %H:%M UTC")
    subject, sentence = texts[event.type]
    footer = str(texts["footer"]).format(url=f"{portal_url.rstrip('/')}/")
    body = sentence.format(
        who=who,
        when=when,
        document=event.document_id or "",
        reference=event.event_id,
        mt=event.data.get("professional_id", "").removeprefix("rpps:"),
        previous=event.data.get("previous", "").removeprefix("rpps:"),
    )
    return Message(subject=subject, body=f"{body}\n\n{footer}\n")


IDENTITY_MESSAGES = {
    "fr": {
        "login_code": (
            "Votre code de connexion",
            "Votre code de connexion à Mon espace santé : {code}\n\nIl est valable {minutes} minutes. "
            "Ne le communiquez à personne : aucun agent ne vous le demandera.\n",
        ),
        "contact_code": (
            "Vérification de votre adresse",
            "Pour confirmer cette adresse pour Mon espace santé, saisissez le code {code}.\n\n"
            "Il est valable {minutes} minutes. Si vous n'avez rien demandé, ignorez ce message.\n",
        ),
        "contact_changed": (
            "Votre adresse de contact a changé",
            "L'adresse de contact de votre dossier médical partagé vient d'être remplacée. "
            "Si ce n'est pas vous, contactez le service sans attendre.\n",
        ),
    },
    "en": {
        "login_code": (
            "Your login code",
            "Your login code for your shared medical record: {code}\n\nIt is valid for {minutes} "
            "minutes. Never share it: nobody from the service will ask you for it.\n",
        ),
        "contact_code": (
            "Verify your address",
            "To confirm this address for your shared medical record, enter the code {code}.\n\n"
            "It is valid for {minutes} minutes. If you asked for nothing, ignore this message.\n",
        ),
        "contact_changed": (
            "Your contact address changed",
            "The contact address of your shared medical record was just replaced. "
            "If this was not you, contact the service at once.\n",
        ),
    },
}


def identity_message(kind: str, code: str | None, minutes: int, language: str) -> Message:
    subject, body = IDENTITY_MESSAGES.get(language, IDENTITY_MESSAGES["fr"])[kind]
    return Message(subject=subject, body=body.format(code=code, minutes=minutes))
