"""Whether a document's bytes match its declared format (the list is codes.FORMATS)."""

from __future__ import annotations

import json


def mismatch(declared: str, content: bytes) -> str | None:
    """Why the bytes are not of the declared format, or None when they are."""
    if declared == "application/pdf":
        return None if content.startswith(b"%PDF-") else "content is not a PDF (no %PDF- header)"
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return "content is not UTF-8 text"
    if declared == "application/fhir+json":
        try:
            resource = json.loads(text)
        except ValueError:
            return "content is not JSON"
        if not isinstance(resource, dict) or "resourceType" not in resource:
            return "content is not a FHIR resource (no resourceType)"
    if declared == "text/xml" and not text.lstrip().startswith("<"):
        return "content is not XML"
    return None
