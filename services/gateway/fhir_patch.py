"""PDSm4DMP's PATCH of a DocumentReference (FHIRPath Patch, a Parameters resource), as the one change of the
dossier it names: pure, no I/O.

Two changes are made this way, each by the dossier's own RPC under its own rules (who may, which state):
archiving (`replace` of PDSm's isArchived extension's value, true or false) and masking from professionals
(`add` of a TRE_A07 MASQUE_PS securityLabel, or `delete` of it). One operation per PATCH, so that a PATCH is
all or nothing; anything else is refused naming what, never half applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from services.common.errors import InvalidInput
from services.gateway.fhir_mapping import IS_ARCHIVED, VISIBILITY_SYSTEMS, path

MASKED = "MASQUE_PS"
# FHIRPath that names the isArchived extension's value, with or without the choice type's suffix
ARCHIVE_PATHS = {
    f"DocumentReference.extension('{IS_ARCHIVED}').value",
    f"DocumentReference.extension('{IS_ARCHIVED}').valueBoolean",
    f"DocumentReference.extension.where(url='{IS_ARCHIVED}').value",
    f"DocumentReference.extension.where(url='{IS_ARCHIVED}').valueBoolean",
}
UNMASK_PATH = re.compile(
    r"^DocumentReference\.securityLabel\.where\(coding\.(where\(system='(?P<system>[^']+)'\)\.)?"
    rf"code='{MASKED}'\)$"
)


@dataclass(frozen=True)
class Archiving:
    archived: bool


@dataclass(frozen=True)
class Masking:
    masked: bool


Change = Archiving | Masking


def _refused(field: str, reason: str) -> InvalidInput:
    return InvalidInput.for_field(field, reason)


def change(patch: Any) -> Change:
    """The change a PATCH body asks for, or InvalidInput naming the part at fault."""
    if not isinstance(patch, dict) or patch.get("resourceType") != "Parameters":
        raise _refused("resourceType", "a PATCH is a FHIRPath Patch: a Parameters resource")
    operations = patch.get("parameter")
    if not isinstance(operations, list) or len(operations) != 1:
        raise _refused("parameter", "holds one operation (archive, unarchive, mask or unmask)")
    operation = operations[0]
    if (
        not isinstance(operation, dict)
        or operation.get("name") != "operation"
        or not isinstance(operation.get("part"), list)
    ):
        raise _refused("parameter[0]", "must be an operation with its parts")
    parts: dict[str, Any] = {}
    for part in operation["part"]:
        name = part.get("name") if isinstance(part, dict) else None
        if not isinstance(name, str) or name in parts:
            raise _refused("parameter[0].part", "each part is named once (type, path, name, value)")
        parts[name] = part
    kind, where = path(parts, "type", "valueCode"), path(parts, "path", "valueString")
    if kind == "replace" and where in ARCHIVE_PATHS:
        archived = path(parts, "value", "valueBoolean")
        if not isinstance(archived, bool):
            raise _refused(
                "parameter[0].part[value]", "the isArchived value is a valueBoolean, true or false"
            )
        return Archiving(archived)
    if (
        kind == "add"
        and where == "DocumentReference"
        and path(parts, "name", "valueString") == "securityLabel"
    ):
        codings = path(parts, "value", "valueCodeableConcept", "coding")
        if (
            isinstance(codings, list)
            and len(codings) == 1
            and isinstance(codings[0], dict)
            and codings[0].get("system") in VISIBILITY_SYSTEMS
            and codings[0].get("code") == MASKED
        ):
            return Masking(True)
        raise _refused(
            "parameter[0].part[value]",
            f"a securityLabel added by PATCH is TRE_A07's {MASKED} (masked "
            "from professionals); confidentiality is set at deposit",
        )
    if kind == "delete" and isinstance(where, str):
        unmask = UNMASK_PATH.match(where)
        if unmask and (unmask["system"] is None or unmask["system"] in VISIBILITY_SYSTEMS):
            return Masking(False)
    raise _refused(
        "parameter[0].part[path]",
        (
            "a PATCH archives (replace DocumentReference.extension('<isArchived>').value), masks (add a "
            f"securityLabel {MASKED}) or unmasks (delete DocumentReference.securityLabel.where(coding.code="
            f"'{MASKED}')); nothing else is changed this way"
        ),
    )
