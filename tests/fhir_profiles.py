"""Checking an emitted resource against a profile of the shared reference data (../shared/reference/fhir/):
its structure by fhir.resources (R4B, FHIR's own element definitions), then the profile's snapshot: every
element's cardinality, every extension slice's (by its url), the fixed and pattern values, and the resource's
own invariants that the snapshot carries as FHIRPath and are restated here in Python (lst-1, lst-2, lst-3)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from fhir.resources.R4B.list import List as FhirList

# ../shared beside the checkout (a clean clone has it there too)
REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "fhir"
PDSM_SUBMISSION_SET = (
    REFERENCE / "ans-pdsm/StructureDefinition-pdsm-submissionset-comprehensive.json"
)
# PDSm's comprehensive set requires what IHE's Minimal SubmissionSet (the profile the facade claims, not in the
# reference data) does not: its author as a contained PractitionerRole. The facade names the author by identifier.
NOT_REQUIRED_BY_MINIMAL = {"List.contained"}


@cache
def _snapshot(path: Path) -> list[dict[str, Any]]:
    elements: list[dict[str, Any]] = json.loads(path.read_text())["snapshot"]["element"]
    return elements


def _values(instance: Any, steps: list[str]) -> list[Any]:
    found = [instance]
    for step in steps:
        following: list[Any] = []
        for value in found:
            child = value.get(step) if isinstance(value, dict) else None
            if isinstance(child, list):
                following.extend(child)
            elif child is not None:
                following.append(child)
        found = following
    return found


def _parents_and_name(element_id: str) -> tuple[list[str], str]:
    steps = element_id.split(".")[1:]
    return steps[:-1], steps[-1]


def problems(resource: dict[str, Any], profile: Path = PDSM_SUBMISSION_SET) -> list[str]:
    """What in `resource` the profile refuses (empty: it conforms), naming the element."""
    FhirList.model_validate(resource)  # raises on anything FHIR R4 itself refuses
    found: list[str] = []
    for element in _snapshot(profile):
        element_id: str = element["id"]
        if (
            element_id in NOT_REQUIRED_BY_MINIMAL
            or "." not in element_id
            or element_id.count(":") > 1
        ):
            continue
        parents, name = _parents_and_name(element_id)
        if any(":" in step for step in parents):
            continue  # inside a slice: its own elements are checked with the slice's url below
        holders = _values(resource, parents)
        for holder in holders:
            if ":" in name:  # an extension slice, told by its url
                base, _ = name.split(":")
                urls = [p for t in element.get("type", []) for p in t.get("profile", [])]
                children = [child for child in _values(holder, [base]) if child.get("url") in urls]
            elif name.endswith("[x]"):
                prefix = name.removesuffix("[x]")
                children = [value for key, value in holder.items() if key.startswith(prefix)]
            else:
                children = _values(holder, [name])
            maximum = element.get("max", "*")
            if len(children) < element.get("min", 0):
                found.append(f"{element_id}: at least {element['min']}, has {len(children)}")
            if maximum != "*" and len(children) > int(maximum):
                found.append(f"{element_id}: at most {maximum}, has {len(children)}")
            for key, wanted in element.items():
                if key.startswith("fixed") or key.startswith("pattern"):
                    for child in children:
                        if not _matches_pattern(child, wanted):
                            found.append(f"{element_id}: {child!r} is not {wanted!r}")
    if resource.get("emptyReason") and resource.get("entry"):
        found.append("lst-1: a List with entries has no emptyReason")
    entries = resource.get("entry") or []
    if resource.get("mode") != "changes" and any("deleted" in e for e in entries):
        found.append("lst-2: only a changes List has deleted entries")
    if resource.get("mode") != "working" and any("date" in e for e in entries):
        found.append("lst-3: only a working List has entry dates")
    return found


def _matches_pattern(value: Any, pattern: Any) -> bool:
    """FHIR's pattern[x]: every element of the pattern is in the value (lists: each pattern item in some item)."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(
            _matches_pattern(value.get(key), inner) for key, inner in pattern.items()
        )
    if isinstance(pattern, list):
        return isinstance(value, list) and all(
            any(_matches_pattern(item, inner) for item in value) for inner in pattern
        )
    return bool(value == pattern)
