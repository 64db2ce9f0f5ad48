"""Errors identity raises on purpose (all shared types; this module names the cases)."""

from __future__ import annotations

from services.common.errors import AccessDenied, Conflict, InvalidInput, NotFound


def dev_login_disabled() -> AccessDenied:
    return AccessDenied.by_rule(
        "R-DEV-LOGIN-OFF",
        "development enrolment and login are disabled on this deployment (DMP_DEV_LOGIN)",
    )


def patient_exists() -> Conflict:
    return Conflict("a patient with this INS is already registered", [{"field": "ins"}])


def professional_exists() -> Conflict:
    return Conflict("a professional with this RPPS is already registered", [{"field": "rpps"}])


def unknown_patient() -> NotFound:
    return NotFound("no patient is registered with this INS", [{"field": "ins"}])


def no_patient_with_traits() -> NotFound:
    """An unknown INS and traits that do not match it get this same answer: nothing tells them apart."""
    return NotFound(
        "no patient matches this INS, family name and birth date",
        [{"field": "ins"}, {"field": "family_name"}, {"field": "birth_date"}],
    )


def unknown_professional() -> NotFound:
    return NotFound("no professional is registered with this RPPS", [{"field": "rpps"}])


__all__ = [
    "InvalidInput",
    "NotFound",
    "dev_login_disabled",
    "no_patient_with_traits",
    "patient_exists",
    "professional_exists",
    "unknown_patient",
    "unknown_professional",
]
