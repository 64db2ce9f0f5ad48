"""HTML forms <-> the API's payloads, as pure functions.

Lists (allergies, treatments, contacts...) are rows of inputs named `<list>-<row>-<field>`; empty
rows are dropped, so a patient removes a row by emptying it. Errors come back from the same pydantic
models the API uses and are shown next to the input they name, in the patient's language.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Literal

from services.gateway.pages.i18n import FIELD_HINTS, MISSING, TOO_LONG, TOO_MANY, Language

Change = Literal["close", "reopen", "deletion"]
LISTS: dict[str, tuple[str, ...]] = {
    "allergies": ("substance", "reaction", "severity"),
    "treatments": ("name", "dosage", "since"),
    "emergency_contacts": ("name", "relation", "phone"),
}
BLANK_ROWS = 2  # empty rows offered under each list for additions, without any script
EXTENSIONS = {
    "application/pdf": ".pdf",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "text/plain": ".txt",
    "text/xml": ".xml",
    "application/fhir+json": ".json",
}


def extension(media_type: str) -> str:
    return EXTENSIONS.get(media_type, "")


def personal_space(form: dict[str, str]) -> tuple[dict[str, Any], int]:
    """The personal space as the API takes it, and the version it replaces, from the submitted form."""
    value = {key: item.strip() for key, item in form.items()}
    rows: dict[str, dict[int, dict[str, str]]] = defaultdict(lambda: defaultdict(dict))
    pathologies: dict[int, str] = {}
    for key, item in value.items():
        parts = key.split("-")
        if (
            len(parts) == 3
            and parts[0] in LISTS
            and parts[1].isdigit()
            and parts[2] in LISTS[parts[0]]
        ):
            rows[parts[0]][int(parts[1])][parts[2]] = item
        elif len(parts) == 2 and parts[0] == "pathologies" and parts[1].isdigit() and item:
            pathologies[int(parts[1])] = item
    content: dict[str, Any] = {
        name: [
            {field: row[field] or None for field in LISTS[name] if field in row}
            for _, row in sorted(rows[name].items())
            if any(row.values())
        ]
        for name in LISTS
    }
    content["pathologies"] = [pathologies[index] for index in sorted(pathologies)]
    content["blood_group"] = value.get("blood_group") or None
    content["organ_donation"] = value.get("organ_donation") or "not_stated"
    trusted = {
        field: value.get(f"trusted_person-{field}", "") for field in ("name", "phone", "email")
    }
    content["trusted_person"] = (
        {k: v or None for k, v in trusted.items()} if any(trusted.values()) else None
    )
    written, kept_by = (
        value.get("advance_directives-written") == "on",
        value.get("advance_directives-kept_by", ""),
    )
    content["advance_directives"] = (
        {"written": written, "kept_by": kept_by or None} if written or kept_by else None
    )
    version = value.get("version", "0")
    return content, int(version) if version.isdigit() else 0


def rows_for(content: dict[str, Any]) -> dict[str, Any]:
    """What the form shows: the stored (or submitted) values, with blank rows for additions."""
    shown = dict(content)
    for name, fields in LISTS.items():
        shown[name] = [
            {field: row.get(field) or "" for field in fields} for row in content.get(name) or []
        ]
        shown[name] += [dict.fromkeys(fields, "") for _ in range(BLANK_ROWS)]
    shown["pathologies"] = [*(content.get("pathologies") or []), *([""] * BLANK_ROWS)]
    shown["trusted_person"] = content.get("trusted_person") or {}
    shown["advance_directives"] = content.get("advance_directives") or {}
    return shown


def input_name(field: str) -> str:
    """An API field path (content.allergies.0.substance) as the input's name (allergies-0-substance)."""
    return field.removeprefix("content.").replace(".", "-")


def field_errors(language: Language, details: list[dict[str, str]]) -> dict[str, str]:
    """Input name -> what is wrong with it, in the patient's words."""
    index = 0 if language == "fr" else 1
    errors: dict[str, str] = {}
    for detail in details:
        name = input_name(detail["field"])
        last = name.rsplit("-", 1)[-1]
        reason = detail["reason"].lower()
        if "required" in reason or "missing" in reason:
            message = MISSING[index]
        elif last in FIELD_HINTS:
            message = FIELD_HINTS[last][index]
        elif "at most" in reason and "item" in reason:
            message = TOO_MANY[index]
        elif "at most" in reason:
            message = TOO_LONG[index]
        else:
            message = (
                detail["reason"]
                if language == "en"
                else f"Valeur non valable ({detail['reason']})."
            )
        errors.setdefault(name, message)
    return errors
