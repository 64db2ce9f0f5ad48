"""From a grant and a search request to the Mongo query: pure, so that it can be tested alone.

The grant becomes part of the query (categories, visibility), so pages are always full and totals
never count a document the caller may not see.
"""

from __future__ import annotations

import base64
import binascii
from datetime import date
from typing import Any

from services.common.errors import InvalidInput
from services.common.grants import Grant

Query = dict[str, Any]


def visible_to(grant: Grant, actor_id: str) -> Query:
    """Documents not hidden from this actor by their visibility codes; an author sees their own."""
    return {"$or": [{"visibility": {"$nin": list(grant.hidden_visibility)}}, {"author.id": actor_id}]}


def document_query(
    dossier_id: str,
    grant: Grant,
    actor_id: str,
    *,
    categories: list[str] | None = None,
    type_code: str | None = None,
    author_id: str | None = None,
    care_from: date | None = None,
    care_to: date | None = None,
    status: str = "current",
) -> Query:
    allowed = set(grant.categories)
    wanted = [c for c in categories if c in allowed] if categories else sorted(allowed)
    query: Query = {"dossier_id": dossier_id, "status": status, "category": {"$in": wanted}}
    if type_code:
        query["type_code"] = type_code
    if author_id:
        query["author.id"] = author_id
    care: dict[str, str] = {}
    if care_from:
        care["$gte"] = care_from.isoformat()
    if care_to:
        care["$lte"] = care_to.isoformat()
    if care:
        query["care_date"] = care
    return {**query, **visible_to(grant, actor_id)}


def after(query: Query, cursor: str | None, order: str = "created_ms") -> Query:
    """The query restricted to what comes after the cursor, newest first (`order` desc, then _id desc)."""
    if not cursor:
        return query
    position, last_id = decode_cursor(cursor)
    page = {"$or": [{order: {"$lt": position}}, {order: position, "_id": {"$lt": last_id}}]}
    return {**query, "$and": [page]}


def encode_cursor(record: dict[str, Any], order: str = "created_ms") -> str:
    return base64.urlsafe_b64encode(f"{record[order]}:{record['_id']}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created_ms, document_id = raw.split(":", 1)
        return int(created_ms), document_id
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput.for_field("cursor", "is not a cursor this API returned") from None
