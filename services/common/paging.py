"""Cursor pagination shared by every list: newest first on an integer order field, then _id.

A cursor is opaque to clients (base64 of the last item's position); a cursor we did not issue is
refused naming the field.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from services.common.errors import InvalidInput

Query = dict[str, Any]


def after(query: Query, cursor: str | None, order: str = "created_ms") -> Query:
    """The query restricted to what comes after the cursor, newest first (`order` desc, then _id desc)."""
    if not cursor:
        return query
    position, last_id = decode_cursor(cursor)
    page = {"$or": [{order: {"$lt": position}}, {order: position, "_id": {"$lt": last_id}}]}
    return {**query, "$and": [*query.get("$and", []), page]}  # the query's own conditions stay


def encode_cursor(record: dict[str, Any], order: str = "created_ms") -> str:
    return (
        base64.urlsafe_b64encode(f"{record[order]}:{record['_id']}".encode()).decode().rstrip("=")
    )


def decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created_ms, document_id = raw.split(":", 1)
        return int(created_ms), document_id
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput.for_field("cursor", "is not a cursor this API returned") from None
