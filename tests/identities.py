"""Valid national identifiers for tests, built from the same formulas as the checks, and cards."""

from __future__ import annotations

import random

from deploy.local.card import Card
from services.common.identifiers import ins_key, luhn_valid


def make_ins(rng: random.Random | None = None, corsica: str | None = None) -> str:
    rng = rng or random.Random()
    department = corsica or f"{rng.randint(1, 95):02d}"
    nir = f"{rng.choice('12')}{rng.randint(0, 99):02d}{rng.randint(1, 12):02d}{department}" \
          f"{rng.randint(1, 999):03d}{rng.randint(1, 999):03d}"
    return f"{nir}{ins_key(nir):02d}"


def make_rpps(rng: random.Random | None = None) -> str:
    rng = rng or random.Random()
    body = f"1{rng.randint(0, 10**9 - 1):09d}"
    check = next(d for d in "0123456789" if luhn_valid(body + d))
    return body + check


__all__ = ["Card", "make_ins", "make_rpps"]
