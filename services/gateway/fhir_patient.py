"""Patient look-up by INS (PDQm's Patient search, narrowed), for a vendor's software to check the identity
before depositing: pure, no I/O.

An INS alone discloses nothing: the search names the patient's INS with the family name and birth date read
from their card or ID, and answers the patient as identity holds them when the traits match, else an empty
Bundle, exactly as for an INS nobody holds (identity.check_patient_identity decides).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from services.common.codes import INS_SYSTEM
from services.gateway import fhir_mapping as mapping
from services.gateway.fhir_search import InvalidSearch

CORE = "http://hl7.org/fhir/SearchParameter/"
FR_CORE_PATIENT = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-patient"
IDENTIFIER_TYPES = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203"
GENDERS = {"M": "male", "F": "female"}
# What the Patient search serves, as the CapabilityStatement lists it: (name, type, definition, documentation).
PATIENT_PARAMETERS = [
    (
        "identifier",
        "token",
        f"{CORE}Patient-identifier",
        f"the patient's INS ({INS_SYSTEM}|<INS>); required",
    ),
    (
        "family",
        "string",
        f"{CORE}individual-family",
        "the family name on the patient's card or ID (accents and case aside); required",
    ),
    (
        "birthdate",
        "date",
        f"{CORE}individual-birthdate",
        "the birth date (YYYY-MM-DD, prefix eq or none); required",
    ),
]
REQUIRED = tuple(name for name, *_ in PATIENT_PARAMETERS)


@dataclass
class PatientSearch:
    """The identity check a search asks for (None: its identifier names no INS, so it matches nothing), the
    parameters applied, in the order given, and those left unapplied."""

    check: dict[str, str] | None = None
    applied: list[tuple[str, str]] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)


def parse(pairs: list[tuple[str, str]]) -> PatientSearch:
    found: dict[str, str] = {}
    search = PatientSearch()
    for name, value in pairs:
        if name not in REQUIRED:
            search.unsupported.append(name)
            continue
        if name in found:
            raise InvalidSearch.of(
                name, "is given more than once: one patient is looked up at a time"
            )
        if "," in value:
            raise InvalidSearch.of(name, "takes one value: one patient is looked up at a time")
        found[name] = value
        search.applied.append((name, value))
    missing = [name for name in REQUIRED if not found.get(name)]
    if missing:
        raise InvalidSearch(
            f"a patient is looked up by INS with the family name and birth date on their card; missing: "
            f"{', '.join(missing)}",
            [{"field": name, "reason": "is required"} for name in missing],
        )
    system, bar, ins = found["identifier"].rpartition("|")
    if bar and system not in ("", INS_SYSTEM):
        return search  # another system's identifier: none of our patients has it
    search.check = {
        "ins": ins,
        "family_name": found["family"],
        "birth_date": _birth_date(found["birthdate"]),
    }
    return search


def _birth_date(value: str) -> str:
    day = value.removeprefix("eq")
    try:
        if len(day) == 10:
            return date.fromisoformat(day).isoformat()
    except ValueError:
        pass
    raise InvalidSearch.of(
        "birthdate", "must be a whole date (YYYY-MM-DD), with the prefix eq or none"
    )


# identity's names for the traits, and the search parameters that carry them
PARAMETER_OF = {"ins": "identifier", "family_name": "family", "birth_date": "birthdate"}


def patient(checked: dict[str, Any]) -> dict[str, Any]:
    """The patient as identity holds them, on FR Core's Patient profile (the INS as an INS-NIR identifier)."""
    return {
        "resourceType": "Patient",
        "id": mapping.fhir_id(str(checked["patient_id"])),
        "meta": {"profile": [FR_CORE_PATIENT]},
        "identifier": [
            {
                "use": "official",
                "system": INS_SYSTEM,
                "value": checked["ins"],
                "type": {
                    "coding": [
                        {"system": IDENTIFIER_TYPES, "code": "INS-NIR", "display": "NIR définitif"}
                    ]
                },
            }
        ],
        "name": [
            {"use": "official", "family": checked["family_name"], "given": [checked["given_name"]]}
        ],
        "gender": GENDERS.get(str(checked["sex"]), "unknown"),
        "birthDate": checked["birth_date"],
    }
