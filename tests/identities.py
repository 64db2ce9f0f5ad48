"""Valid national identifiers for tests, built from the same formulas as the checks, and cards."""

from __future__ import annotations

import random
import uuid
from datetime import date

from services.common.cards import Card
from services.common.identifiers import ins_key, luhn_valid


def make_ins(
    rng: random.Random | None = None,
    corsica: str | None = None,
    born: date | None = None,
    sex: str | None = None,
) -> str:
    rng = rng or random.Random()
    department = corsica or f"{rng.randint(1, 95):02d}"
    sex_digit = {"M": "1", "F": "2"}[sex] if sex else rng.choice("12")
    year, month = (
        (born.year % 100, born.month) if born else (rng.randint(0, 99), rng.randint(1, 12))
    )
    nir = f"{sex_digit}{year:02d}{month:02d}{department}{rng.randint(1, 999):03d}{rng.randint(1, 999):03d}"
    return f"{nir}{ins_key(nir):02d}"


def registration(
    born: date = date(1980, 1, 15), email: str | None = None, **overrides: str
) -> dict[str, str]:
    """A patient registration whose INS agrees with the birth date and sex, as INSi would return."""
    ins = make_ins(born=born, sex="F")
    return {
        "ins": ins,
        "given_name": "Camille",
        "family_name": "Martin",
        "sex": "F",
        "birth_date": born.isoformat(),
        "birth_place_code": "75056",
        "email": email or f"{uuid.uuid4().hex[:12]}@patients.dmp-test.fr",
        **overrides,
    }


def make_rpps(rng: random.Random | None = None) -> str:
    rng = rng or random.Random()
    body = f"1{rng.randint(0, 10**9 - 1):09d}"
    check = next(d for d in "0123456789" if luhn_valid(body + d))
    return body + check


__all__ = ["Card", "make_ins", "make_rpps", "registration"]
