"""FHIR's conditional read and update (RFC 9110 preconditions on the version the facade shows as
`meta.versionId`, its weak ETag `W/"<versionId>"`, and `Last-Modified`): pure, no I/O.

A read answers 304 only after the dossier has shown the caller the document, so a document the caller may not
see answers 404 whatever the headers. If-Match on a PATCH becomes the revision the dossier's write compares
(services/dossier/store.py revise_document): the check and the write are one.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from services.common.errors import DmpError

# An entity tag, weak or strong (RFC 9110 8.8.3); our versions are whole numbers.
ENTITY_TAG = re.compile(r'^(W/)?"(?P<tag>[\x21\x23-\x7e]*)"$')


class InvalidHeader(DmpError):
    """A conditional header that is not what RFC 9110 says it is: 400, the header named."""

    code = "invalid_header"
    status = 400

    @classmethod
    def of(cls, header: str, reason: str) -> InvalidHeader:
        return cls(f"{header}: {reason}", [{"field": header, "reason": reason}])


def _tags(header: str, value: str) -> list[str]:
    tags = []
    for part in value.split(","):
        found = ENTITY_TAG.match(part.strip())
        if not found:
            raise InvalidHeader.of(header, 'must be an entity tag as the ETag shows it, e.g. W/"2"')
        tags.append(found["tag"])
    return tags


def expected_version(if_match: str | None) -> int | None:
    """The version a PATCH is conditioned on (If-Match), None without one (or `*`: any current version)."""
    if if_match is None or if_match.strip() == "*":
        return None
    tags = _tags("If-Match", if_match)
    if len(tags) != 1 or not tags[0].isdigit() or tags[0].startswith("0"):
        raise InvalidHeader.of("If-Match", 'names one version as the ETag shows it, e.g. W/"2"')
    return int(tags[0])


def not_modified(
    version: str,
    last_modified: datetime,
    if_none_match: str | None,
    if_modified_since: str | None,
) -> bool:
    """Whether a read may answer 304 Not Modified. If-None-Match, when sent, decides alone (RFC 9110
    13.2.2): `*` or any of its tags being the current version (weak comparison). Else If-Modified-Since: not
    changed after that second (Last-Modified has no finer precision)."""
    if if_none_match is not None:
        if if_none_match.strip() == "*":
            return True
        return version in _tags("If-None-Match", if_none_match)
    if if_modified_since is None:
        return False
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError, IndexError):
        since = None
    if since is None or since.tzinfo is None:
        raise InvalidHeader.of(
            "If-Modified-Since", "must be an HTTP date, e.g. Thu, 03 Dec 2026 18:30:00 GMT"
        )
    return last_modified.astimezone(UTC).replace(microsecond=0) <= since.astimezone(UTC)
