"""Showing a document to its patient: a CDA R2 document turned into readable blocks.

Pure functions over bytes the dossier already checked at deposit. The XML is parsed again with
defusedxml (never trust stored content more than deposited content), and only text comes out: the
templates escape it, so nothing in a document can run in the patient's browser.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any, Literal
from xml.etree.ElementTree import Element

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

HL7 = "{urn:hl7-org:v3}"
MAX_DEPTH = 6  # sections nest; a hostile document must not recurse without end

BlockKind = Literal["paragraph", "list", "table"]


@dataclass
class Block:
    kind: BlockKind
    text: str = ""
    items: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


@dataclass
class Section:
    title: str
    blocks: list[Block]
    level: int


@dataclass
class CdaView:
    title: str
    effective: str | None
    authors: list[str]
    sections: list[Section]
    embedded_type: str | None = None  # level 1: the format of the document it carries (e.g. a PDF)
    embedded: bytes | None = None


def words(element: Element | None) -> str:
    return " ".join("".join(element.itertext()).split()) if element is not None else ""


def read_cda(content: bytes) -> CdaView | None:
    """The readable parts of a CDA document, or None if it is not one."""
    try:
        root: Element = ElementTree.fromstring(content)
    except (ElementTree.ParseError, DefusedXmlException):
        return None
    if root.tag != f"{HL7}ClinicalDocument":
        return None
    effective = root.find(f"{HL7}effectiveTime")
    view = CdaView(
        title=words(root.find(f"{HL7}title")),
        effective=display_time(effective.get("value")) if effective is not None else None,
        authors=[
            name for name in (person_name(a) for a in root.iter(f"{HL7}assignedPerson")) if name
        ],
        sections=[],
    )
    body = root.find(f"{HL7}component")
    if body is None:
        return view
    structured = body.find(f"{HL7}structuredBody")
    if structured is not None:
        for component in structured.findall(f"{HL7}component"):
            section = component.find(f"{HL7}section")
            if section is not None:
                view.sections.extend(read_section(section, 1))
        return view
    carried = body.find(f"{HL7}nonXMLBody/{HL7}text")
    if carried is not None and carried.get("representation") == "B64":
        try:
            view.embedded = base64.b64decode("".join((carried.text or "").split()), validate=True)
            view.embedded_type = carried.get("mediaType") or "application/octet-stream"
        except (binascii.Error, ValueError):
            view.embedded = None
    return view


def read_section(section: Element, level: int) -> list[Section]:
    if level > MAX_DEPTH:
        return []
    narrative = section.find(f"{HL7}text")
    found = [
        Section(
            title=words(section.find(f"{HL7}title")),
            blocks=narrative_blocks(narrative),
            level=level,
        )
    ]
    for component in section.findall(f"{HL7}component"):
        inner = component.find(f"{HL7}section")
        if inner is not None:
            found.extend(read_section(inner, level + 1))
    return found


def narrative_blocks(narrative: Element | None) -> list[Block]:
    """CDA narrative (paragraph, list, table, loose text) as blocks of plain text."""
    if narrative is None:
        return []
    blocks: list[Block] = []
    if narrative.text and narrative.text.strip():
        blocks.append(Block("paragraph", text=" ".join(narrative.text.split())))
    for child in narrative:
        tag = child.tag.removeprefix(HL7)
        if tag == "list":
            blocks.append(Block("list", items=[words(item) for item in child.iter(f"{HL7}item")]))
        elif tag == "table":
            rows = [
                [words(cell) for cell in row if cell.tag in (f"{HL7}th", f"{HL7}td")]
                for row in child.iter(f"{HL7}tr")
            ]
            blocks.append(Block("table", rows=[row for row in rows if row]))
        elif words(child):
            blocks.append(Block("paragraph", text=words(child)))
        if child.tail and child.tail.strip():
            blocks.append(Block("paragraph", text=" ".join(child.tail.split())))
    return blocks


def person_name(person: Element) -> str:
    name = person.find(f"{HL7}name")
    if name is None:
        return ""
    parts = [words(name.find(f"{HL7}{part}")) for part in ("prefix", "given", "family")]
    return " ".join(part for part in parts if part) or words(name)


def display_time(value: str | None) -> str | None:
    """A CDA TS (YYYYMMDD[HHMM...]) as YYYY-MM-DD; anything else as it is."""
    if value and len(value) >= 8 and value[:8].isdigit():
        return f"{value[0:4]}-{value[4:6]}-{value[6:8]}"
    return value


def shown_for(media_type: str, content: bytes) -> dict[str, Any]:
    """How a document's page shows it: a frame (PDF), an image, text, a read CDA, or a download only."""
    if media_type == "application/pdf":
        return {"kind": "frame"}
    if media_type.startswith("image/"):
        return {"kind": "image"}
    if media_type == "text/plain":
        return {"kind": "text", "text": content.decode("utf-8", errors="replace")}
    if media_type == "application/fhir+json":
        try:
            return {
                "kind": "text",
                "text": json.dumps(json.loads(content), indent=2, ensure_ascii=False),
            }
        except ValueError:
            return {"kind": "download"}
    if media_type == "text/xml":
        cda = read_cda(content)
        if cda is not None:
            return {"kind": "cda", "cda": cda}
    return {"kind": "download"}


SHOWN_EMBEDDED = ("application/pdf", "image/jpeg", "image/png", "text/plain")


def served_part(media_type: str, content: bytes, part: str | None) -> tuple[str, bytes] | None:
    """What a document's content URL serves: the bytes, or with part=embedded the document a CDA carries
    (None when it carries none that can be shown)."""
    if media_type == "text/xml" and part == "embedded":
        cda = read_cda(content)
        if cda is None or cda.embedded is None or cda.embedded_type not in SHOWN_EMBEDDED:
            return None
        return cda.embedded_type, cda.embedded
    return media_type, content
