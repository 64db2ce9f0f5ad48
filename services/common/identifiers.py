"""Checks of national identifiers, shared by every service: pure functions, no I/O.

INS (Identifiant National de Santé) for a person born in France is the NIR: 13 characters plus a
2-digit key, key = 97 - (NIR mod 97). Corsican departments "2A" and "2B" are read as 19 and 18 for
the key. Temporary numbers (NIA, first digit 7 or 8) are not an INS and are refused.

RPPS: 11 digits whose last digit is the Luhn check digit of the first ten.
"""

from __future__ import annotations

import re
from datetime import date

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from services.common.codes import PROFESSIONS
from services.common.errors import InvalidInput

_CORSICA = {"2A": "19", "2B": "18"}


def ins_key(nir: str) -> int:
    """The INS key of a 13-character NIR (digits, or 2A/2B at the department)."""
    numeric = nir[:5] + _CORSICA.get(nir[5:7], nir[5:7]) + nir[7:]
    return 97 - int(numeric) % 97


def check_ins(value: str) -> str:
    """Return the INS, normalised, or raise ValueError saying what is wrong."""
    if not isinstance(value, str):
        raise ValueError("must be a string of 15 characters")
    ins = value.replace(" ", "").upper()
    if len(ins) != 15:
        raise ValueError(f"must have 15 characters (13 + 2-digit key), got {len(ins)}")
    nir, key = ins[:13], ins[13:]
    department = nir[5:7]
    rest = nir[:5] + ("00" if department in _CORSICA else department) + nir[7:]
    if not (rest.isascii() and rest.isdigit() and key.isascii() and key.isdigit()):
        raise ValueError("must be digits (the department may be 2A or 2B)")
    if nir[0] in "78":
        raise ValueError("is a temporary number (NIA), not an INS")
    if nir[0] not in "12":
        raise ValueError("must start with 1 or 2 (sex digit)")
    if int(key) != ins_key(nir):
        raise ValueError("key does not match the number (97 - NIR mod 97)")
    return ins


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def check_rpps(value: str) -> str:
    if not isinstance(value, str) or not (value.isascii() and value.isdigit()):
        raise ValueError("must be 11 digits")
    if len(value) != 11:
        raise ValueError(f"must have 11 digits, got {len(value)}")
    if not luhn_valid(value):
        raise ValueError("check digit (Luhn) does not match")
    return value


ACTOR_ID = re.compile(r"^(rpps:\d{11}|agent:[A-Za-z0-9-]{3,32}|system:[a-z0-9-]{3,32})$")


def check_actor_id(value: str) -> str:
    """Who logs in with a card or key: rpps:<RPPS>, agent:<agent id> or system:<client id>."""
    if not isinstance(value, str) or not ACTOR_ID.match(value):
        raise ValueError("must be rpps:<11 digits>, agent:<id> or system:<client id>")
    if value.startswith("rpps:"):
        check_rpps(value.removeprefix("rpps:"))
    return value


def check_finess(value: str) -> str:
    if not isinstance(value, str) or not (value.isascii() and value.isdigit()) or len(value) != 9:
        raise ValueError("must be 9 digits")
    if not luhn_valid(value):
        raise ValueError("check digit (Luhn) does not match")
    return value


def demographics_mismatch(ins: str, sex: str, birth: date) -> list[dict[str, str]]:
    """Where declared traits contradict the INS (a NIR encodes sex, year and month of birth)."""
    problems = []
    if {"1": "M", "2": "F"}.get(ins[0]) != sex:
        problems.append(
            {"field": "sex", "reason": "does not match the INS (first digit 1 = M, 2 = F)"}
        )
    month = int(ins[3:5])
    if int(ins[1:3]) != birth.year % 100 or (1 <= month <= 12 and month != birth.month):
        problems.append(
            {"field": "birth_date", "reason": "does not match the INS (year and month of birth)"}
        )
    return problems


def check_profession(code: str) -> str:
    if code not in PROFESSIONS:
        raise ValueError("is not a TRE_G15 profession code")
    return code


def check_card_key(pem: str) -> str:
    """The card's public key must be a P-256 key in PEM (what ES256 signs with)."""
    try:
        key = load_pem_public_key(pem.encode())
    except ValueError:
        raise ValueError("is not a PEM public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ValueError("must be an EC P-256 key (ES256)")
    return pem


def require_ins(value: object, field: str = "ins") -> str:
    """check_ins for an RPC argument: the error names the field."""
    try:
        return check_ins(value)  # type: ignore[arg-type]
    except ValueError as error:
        raise InvalidInput.for_field(field, str(error)) from None
