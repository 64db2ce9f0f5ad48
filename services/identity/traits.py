"""Identity traits checked before a professional sees anything of a patient (identitovigilance): the
INS with the family name and birth date read from the Vitale card or an ID. Pure functions."""

from __future__ import annotations

import unicodedata
from datetime import date

from services.identity.records import Patient

SEPARATORS = str.maketrans({"-": " ", "'": " ", "\u2019": " ", ".": " "})


def comparable_name(name: str) -> str:
    """A family name as compared: case, accents, hyphens, apostrophes and repeated spaces do not count
    (MARTIN-DUPONT, Martin Dupont and martin-dupont are the same name; Martín is Martin)."""
    decomposed = unicodedata.normalize("NFKD", name.casefold().translate(SEPARATORS))
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(letters.split())


def traits_match(patient: Patient, family_name: str, birth_date: date) -> bool:
    """True when the declared family name and birth date are the registered patient's."""
    return (
        comparable_name(patient.family_name) == comparable_name(family_name)
        and patient.birth_date == birth_date
    )
