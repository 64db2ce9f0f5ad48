"""From a grant and a search request to the Mongo query: pure, so that it can be tested alone.

The grant becomes part of the query (categories, visibility), so pages are always full and totals
never count a document the caller may not see.
"""

from __future__ import annotations

from datetime import date

from services.common.grants import Grant, visible_to
from services.common.paging import Query, after, encode_cursor

__all__ = ["Query", "after", "document_query", "encode_cursor", "visible_to"]


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
