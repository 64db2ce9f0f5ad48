"""Whether a document's bytes match its declared format (the list is codes.FORMATS).

XML is parsed with defusedxml: a deposit is untrusted input, and entity expansion or external
entities must not reach the parser. JSON's depth is bounded before it is parsed (services/common/jsondepth.py).
"""

from __future__ import annotations

import json
from xml.etree.ElementTree import Element

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

from services.common.jsondepth import MAX_JSON_DEPTH, depth_exceeds

HL7 = "{urn:hl7-org:v3}"
PATIENT_ONLY_FORMATS = {"image/jpeg", "image/png"}  # photos and scans the patient adds themselves


def mismatch(declared: str, content: bytes) -> str | None:
    """Why the bytes are not of the declared format, or None when they are."""
    if declared == "application/pdf":
        return None if content.startswith(b"%PDF-") else "content is not a PDF (no %PDF- header)"
    if declared == "image/jpeg":
        return None if content.startswith(b"\xff\xd8\xff") else "content is not a JPEG image"
    if declared == "image/png":
        return None if content.startswith(b"\x89PNG\r\n\x1a\n") else "content is not a PNG image"
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return "content is not UTF-8 text"
    if declared == "application/fhir+json":
        if depth_exceeds(content):  # measured first: the parser recurses once per level
            return f"content is JSON nested deeper than {MAX_JSON_DEPTH} levels"
        try:
            resource = json.loads(text)
        except ValueError:
            return "content is not JSON"
        if not isinstance(resource, dict) or "resourceType" not in resource:
            return "content is not a FHIR resource (no resourceType)"
    if declared == "text/xml":
        return cda_problem(content)
    return None


def cda_problem(content: bytes) -> str | None:
    """A CDA R2 document: level 1 (nonXMLBody, e.g. an embedded PDF) or level 3 (structuredBody)."""
    try:
        root: Element = ElementTree.fromstring(content)
    except (ElementTree.ParseError, DefusedXmlException):
        return "content is not well-formed XML (or uses entities, which are refused)"
    if root.tag != f"{HL7}ClinicalDocument":
        return "content is not a CDA R2 document (root must be ClinicalDocument in urn:hl7-org:v3)"
    body = root.find(f"{HL7}component")
    if body is None or (
        body.find(f"{HL7}nonXMLBody") is None and body.find(f"{HL7}structuredBody") is None
    ):
        return "the CDA document has no body (nonXMLBody for level 1, structuredBody for level 3)"
    return None


def cda_level(content: bytes) -> int | None:
    """1 or 3 for a CDA document that passed cda_problem; None otherwise."""
    try:
        body = ElementTree.fromstring(content).find(f"{HL7}component")
    except (ElementTree.ParseError, DefusedXmlException):
        return None
    if body is None:
        return None
    return 3 if body.find(f"{HL7}structuredBody") is not None else 1
