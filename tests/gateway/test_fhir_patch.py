"""PDSm4DMP's PATCH read into the one change it names (services/gateway/fhir_patch.py), with no I/O."""

from __future__ import annotations

from typing import Any

import pytest

from services.common.errors import InvalidInput
from services.gateway.fhir_mapping import IS_ARCHIVED, VISIBILITY_SYSTEM
from services.gateway.fhir_patch import Archiving, Masking, change

NOS_VISIBILITY = "https://mos.esante.gouv.fr/NOS/TRE_A07-StatutVisibiliteDocument/FHIR/TRE-A07-StatutVisibiliteDocument"


def patch(*parts: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": [{"name": "operation", "part": list(parts)}]}


def archive(
    value: Any, path: str = f"DocumentReference.extension('{IS_ARCHIVED}').value"
) -> dict[str, Any]:
    return patch(
        {"name": "type", "valueCode": "replace"},
        {"name": "path", "valueString": path},
        {"name": "value", "valueBoolean": value},
    )


def mask(system: str = VISIBILITY_SYSTEM, code: str = "MASQUE_PS") -> dict[str, Any]:
    return patch(
        {"name": "type", "valueCode": "add"},
        {"name": "path", "valueString": "DocumentReference"},
        {"name": "name", "valueString": "securityLabel"},
        {"name": "value", "valueCodeableConcept": {"coding": [{"system": system, "code": code}]}},
    )


def unmask(
    path: str = "DocumentReference.securityLabel.where(coding.code='MASQUE_PS')",
) -> dict[str, Any]:
    return patch({"name": "type", "valueCode": "delete"}, {"name": "path", "valueString": path})


@pytest.mark.parametrize(
    ("body", "wanted"),
    [
        (archive(True), Archiving(True)),
        (archive(False), Archiving(False)),
        (
            archive(True, f"DocumentReference.extension.where(url='{IS_ARCHIVED}').valueBoolean"),
            Archiving(True),
        ),
        (mask(), Masking(True)),
        (mask(NOS_VISIBILITY), Masking(True)),
        (unmask(), Masking(False)),
        (
            unmask(
                f"DocumentReference.securityLabel.where(coding.where(system='{VISIBILITY_SYSTEM}').code='MASQUE_PS')"
            ),
            Masking(False),
        ),
    ],
)
def test_each_change_a_patch_can_make(body: dict[str, Any], wanted: Any) -> None:
    assert change(body) == wanted


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            [{"op": "replace", "path": "/status", "value": "entered-in-error"}],
            "resourceType",
        ),  # a JSON Patch
        ({"resourceType": "Parameters", "parameter": []}, "parameter"),
        (
            {
                "resourceType": "Parameters",
                "parameter": [*archive(True)["parameter"], *mask()["parameter"]],
            },
            "parameter",
        ),
        (archive("true"), "parameter[0].part[value]"),  # a string is not a boolean
        (
            mask(code="INVISIBLE_PATIENT"),
            "parameter[0].part[value]",
        ),  # invisibility is the author's, at deposit
        (mask(system="urn:oid:1.2.3"), "parameter[0].part[value]"),
        (
            mask(system="http://terminology.hl7.org/CodeSystem/v3-Confidentiality", code="R"),
            "parameter[0].part[value]",
        ),
        (
            patch(
                {"name": "type", "valueCode": "replace"},
                {"name": "path", "valueString": "DocumentReference.status"},
                {"name": "value", "valueCode": "entered-in-error"},
            ),
            "parameter[0].part[path]",
        ),
        (
            unmask("DocumentReference.securityLabel"),
            "parameter[0].part[path]",
        ),  # every label, confidentiality too
        (
            unmask(
                "DocumentReference.securityLabel.where(coding.where(system='urn:oid:1.2.3').code='MASQUE_PS')"
            ),
            "parameter[0].part[path]",
        ),
        (
            patch({"name": "type", "valueCode": "add"}, {"name": "type", "valueCode": "delete"}),
            "parameter[0].part",
        ),
    ],
)
def test_anything_else_is_refused_naming_the_part_at_fault(body: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        change(body)
    assert refused.value.details[0]["field"] == field
