"""What the patient is told, in plain words and without health content: who did what, when,
and where to see the access history. French by default, English on request."""

from __future__ import annotations

from dataclasses import dataclass

from services.common.codes import PROFESSIONS
from services.common.events import Event, EventType

NOTIFIED = {EventType.DOCUMENT_ADDED, EventType.DOCUMENT_READ}

TEXTS = {
    "fr": {
        EventType.DOCUMENT_ADDED: (
            "Nouveau document dans votre dossier médical partagé",
            "{who} a ajouté un document à votre dossier médical partagé le {when}.",
        ),
        EventType.DOCUMENT_READ: (
            "Consultation de votre dossier médical partagé",
            "{who} a consulté un document de votre dossier médical partagé le {when}.",
        ),
        "who": "Un professionnel de santé ({profession}, RPPS {rpps})",
        "footer": "Voir qui a accédé à votre dossier : {url}\n\nCe message est envoyé automatiquement.",
    },
    "en": {
        EventType.DOCUMENT_ADDED: (
            "New document in your shared medical record",
            "{who} added a document to your shared medical record on {when}.",
        ),
        EventType.DOCUMENT_READ: (
            "Your shared medical record was consulted",
            "{who} consulted a document in your shared medical record on {when}.",
        ),
        "who": "A health professional ({profession}, RPPS {rpps})",
        "footer": "See who accessed your record: {url}\n\nThis message is sent automatically.",
    },
}


@dataclass(frozen=True)
class Message:
    subject: str
    body: str


def should_notify(event: Event) -> bool:
    """The patient is told of what professionals do, not of their own actions."""
    return event.type in NOTIFIED and event.actor is not None and event.actor.kind == "professional"


def compose(event: Event, language: str, portal_url: str) -> Message:
    texts = TEXTS.get(language, TEXTS["fr"])
    assert event.actor is not None
    profession = PROFESSIONS.get(event.actor.profession or "", "professionnel de santé")
    who = str(texts["who"]).format(profession=profession, rpps=event.actor.id.removeprefix("rpps:"))
    when = event.occurred_at.strftime("%d/%m/%Y %H:%M UTC")
    subject, sentence = texts[event.type]
    footer = str(texts["footer"]).format(url=f"{portal_url.rstrip('/')}/")
    return Message(subject=subject, body=f"{sentence.format(who=who, when=when)}\n\n{footer}\n")


LOGIN_CODE = {
    "fr": ("Votre code de connexion",
           "Votre code de connexion à Mon espace santé : {code}\n\nIl est valable {minutes} minutes. "
           "Ne le communiquez à personne : aucun agent ne vous le demandera.\n"),
    "en": ("Your login code",
           "Your login code for your shared medical record: {code}\n\nIt is valid for {minutes} minutes. "
           "Never share it: nobody from the service will ask you for it.\n"),
}


def login_code(code: str, minutes: int, language: str) -> Message:
    subject, body = LOGIN_CODE.get(language, LOGIN_CODE["fr"])
    return Message(subject=subject, body=body.format(code=code, minutes=minutes))
