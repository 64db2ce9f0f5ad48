"""From a grant and a search request to the Mongo query: pure, so that it can be tested alone. Part of the
store's side of the boundary: only services/dossier/store.py uses it (the fields it names are stored ones).

The grant becomes part of the query (categories, visibility), so pages are always full and totals
never count a document the caller may not see. Every search parameter is one more condition ANDed to
that query: a parameter can narrow what the grant lets through, never widen it.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

from services.common.grants import Grant, visible_to
from services.common.paging import Query, after, encode_cursor
from services.dossier.schemas import PersonName

CONFIDENTIALITY_CODES = (
    "N",
    "R",
    "V",
)  # HL7 confidentiality; every other label is a visibility code (TRE_A07)

__all__ = ["Query", "after", "document_query", "encode_cursor", "visible_to"]


def document_query(
    dossier_id: str,
    grant: Grant,
    actor_id: str,
    *,
    categories: list[str] | None = None,
    type_codes: list[str] | None = None,
    author_id: str | None = None,
    care_from: date | None = None,
    care_to: date | None = None,
    period: PeriodBounds | None = None,
    created_from_ms: int | None = None,
    created_before_ms: int | None = None,
    document_ids: list[str] | None = None,
    identifiers: list[str] | None = None,
    patient_id: str | None = None,
    statuses: list[str] | None = None,
    security_labels: list[list[str]] | None = None,
    updated_from_ms: int | None = None,
    updated_before_ms: int | None = None,
    replaces: list[str] | None = None,
    coded: dict[str, list[str]] | None = None,
    names: dict[str, list[str]] | None = None,
) -> Query:
    """A list given as None filters nothing; an empty list matches nothing (a FHIR token whose system is not
    ours, say). `security_labels`: groups of labels (confidentiality or visibility codes), each group an OR,
    the groups ANDed (FHIR's comma and repeat). `updated_*`: the last change of its metadata (its deposit when
    it never changed, as FHIR's meta.lastUpdated shows it). `coded`: per field of CODED, its groups of
    tokens (see coded_as). `names`: per name part of NAME_PARTS, its groups of values (see named)."""
    allowed = set(grant.categories)
    wanted = sorted(allowed) if categories is None else [c for c in categories if c in allowed]
    statuses = ["current"] if statuses is None else statuses
    query: Query = {
        "dossier_id": dossier_id,
        "category": {"$in": wanted},
        # One status stays a plain equality: the store fetches by (dossier_id, status).
        "status": statuses[0] if len(statuses) == 1 else {"$in": statuses},
        "pending": None,  # a document waiting for the others of its deposit is nobody's yet
    }
    if type_codes is not None:
        query["type_code"] = {"$in": type_codes}
    if document_ids is not None:
        query["_id"] = {"$in": document_ids}
    conditions: list[Query] = []
    if identifiers is not None:
        conditions.append(identified_by(identifiers))
    conditions.extend(labelled(group) for group in security_labels or [])
    if period is not None:
        conditions.extend(period.conditions())
    if updated_from_ms is not None or updated_before_ms is not None:
        conditions.append(last_changed(updated_from_ms, updated_before_ms))
    for field, groups in (coded or {}).items():
        conditions.extend(coded_as(field, group) for group in groups)
    for part, name_groups in (names or {}).items():
        conditions.extend(named(part, group) for group in name_groups)
    if conditions:
        query["$and"] = conditions
    if replaces is not None:
        query["replaces"] = {"$in": replaces}
    if patient_id is not None:
        query["patient_id"] = patient_id
    if author_id:
        query["author.id"] = author_id
    care: dict[str, str] = {}
    if care_from:
        care["$gte"] = care_from.isoformat()
    if care_to:
        care["$lte"] = care_to.isoformat()
    if care:
        query["care_date"] = care
    created: dict[str, int] = {}
    if created_from_ms is not None:
        created["$gte"] = created_from_ms
    if created_before_ms is not None:
        created["$lt"] = created_before_ms
    if created:
        query["created_ms"] = created
    return {**query, **visible_to(grant, actor_id)}


@dataclass(frozen=True)
class PeriodBounds:
    """Where the period of care lies (FHIR date search on a Period, at day precision): it starts on its date of
    care (care_start's day, as written, is that day) and ends on care_end's day as written, or is ongoing."""

    starts_from: date | None = None
    starts_to: date | None = None
    ends_from: date | None = None  # or has no end
    ends_to: date | None = None  # and has one

    def conditions(self) -> list[Query]:
        found: list[Query] = []
        if self.starts_from is not None:
            found.append({"care_date": {"$gte": self.starts_from.isoformat()}})
        if self.starts_to is not None:
            found.append({"care_date": {"$lte": self.starts_to.isoformat()}})
        # care_end is a date or a date and time: its day as written compares as a prefix of the string. No end
        # is asked as $in [None]: nx-27017 misses a stored null for a bare `None` within an $or.
        if self.ends_from is not None:
            ongoing = {"care_end": {"$in": [None]}}
            found.append({"$or": [ongoing, {"care_end": {"$gte": self.ends_from.isoformat()}}]})
        if self.ends_to is not None:
            found.append({"care_end": {"$lt": (self.ends_to + timedelta(days=1)).isoformat()}})
        return found


def identified_by(identifiers: list[str]) -> Query:
    """Documents with any of these ids: ours, or the unique id their source gave. One whose source gave none
    answers to the UUID URN of its own id (what the FHIR facade shows as its masterIdentifier)."""
    ours = [value for value in identifiers if value.startswith("doc_")]
    theirs = [value for value in identifiers if value.startswith("urn:")]
    derived = [
        f"doc_{value.removeprefix('urn:uuid:').replace('-', '')}"
        for value in theirs
        if value.startswith("urn:uuid:")
    ]
    return {
        "$or": [
            {"_id": {"$in": ours}},
            {"unique_id": {"$in": theirs}},
            {"_id": {"$in": derived}, "unique_id": None},
        ]
    }


def labelled(labels: list[str]) -> Query:
    """Documents carrying any of these labels: their confidentiality code (N when none was stored, as it is
    shown) or one of their visibility codes."""
    confidentiality: list[str | None] = [code for code in labels if code in CONFIDENTIALITY_CODES]
    if "N" in confidentiality:
        confidentiality.append(None)  # stored before confidentiality was: normal
    return {
        "$or": [
            {"confidentiality": {"$in": confidentiality}},
            {"visibility": {"$in": [code for code in labels if code not in CONFIDENTIALITY_CODES]}},
        ]
    }


def last_changed(from_ms: int | None, before_ms: int | None) -> Query:
    """Documents whose metadata last changed within [from_ms, before_ms): updated_ms, or created_ms for one
    never changed since its deposit."""
    window: dict[str, int] = {}
    if from_ms is not None:
        window["$gte"] = from_ms
    if before_ms is not None:
        window["$lt"] = before_ms
    return {"$or": [{"updated_ms": window}, {"updated_ms": None, "created_ms": window}]}


# The stored fields a token search reads, and how one token's (system, code) pair is found in each: a concept
# (its codings), a list of concepts, a coding, a list of identifiers (system, value).
CODED = {
    "practice_setting": "concept",
    "facility_type": "concept",
    "events": "concepts",
    "format_code": "coding",
    "related": "identifiers",
}
NOTHING: Query = {"_id": {"$in": []}}  # Mongo refuses an empty $or


def coded_as(field: str, group: str) -> Query:
    """Documents whose `field` has any of a group's comma-separated tokens: `system|code`, `code` (any system),
    `system|` (any code of that system), `|code` (a code without a system). An empty group matches nothing."""
    shape = CODED[field]
    alternatives: list[Query] = []
    for token in group.split(",") if group else []:
        system, bar, code = token.rpartition("|")
        pair: Query = {}
        if bar:
            pair["system"] = system or None
        if code:
            pair["value" if shape == "identifiers" else "code"] = code
        if not pair:
            continue  # "|": no system and no code names nothing
        if shape == "coding":
            alternatives.append({f"{field}.{key}": value for key, value in pair.items()})
        elif shape == "identifiers":
            alternatives.append({field: {"$elemMatch": pair}})
        elif shape == "concept":
            alternatives.append({f"{field}.codings": {"$elemMatch": pair}})
        else:
            alternatives.append({field: {"$elemMatch": {"codings": {"$elemMatch": pair}}}})
    return {"$or": alternatives} if alternatives else NOTHING


# The author's name parts a string search reads: FHIR's part (`given`, `family`) and, for `:exact`, the part as
# registered. Documents keep both the part and its search key (name_key) under `author_name`.
NAME_PARTS = ("given", "family", "given_exact", "family_exact")
LAST_CHARACTER = "\U0010ffff"  # after every key that starts with a prefix


def name_key(text: str) -> str:
    """A name part as FHIR string search compares it: case and accents aside (Élodie and elodie are one), spaces
    collapsed."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


def name_fields(name: PersonName) -> dict[str, str]:
    """What a record keeps of a name under `author_name`, the fields `named` reads: each part as registered, and
    its search key."""
    return {
        "given": name.given,
        "family": name.family,
        "given_key": name_key(name.given),
        "family_key": name_key(name.family),
    }


def names_in(group: str) -> list[str]:
    """The names of a group: comma-separated, each stripped; an empty one names nothing."""
    return [name.strip() for name in group.split(",") if name.strip()]


def named(part: str, group: str) -> Query:
    """Documents whose author's name part matches any of a group's comma-separated names: starts with it, case
    and accents aside (FHIR string search), or for an `_exact` part equals it. A document kept without its
    author's name has neither field, so matches none; an empty group matches nothing."""
    values = names_in(group)
    if not values:
        return NOTHING
    if part.endswith("_exact"):
        return {f"author_name.{part.removesuffix('_exact')}": {"$in": values}}
    keys = sorted({name_key(value) for value in values})
    field = f"author_name.{part}_key"
    return {"$or": [{field: {"$gte": key, "$lt": key + LAST_CHARACTER}} for key in keys]}
