"""ITI-67's search parameters, from a request's (name, value) pairs to the dossier's DocumentSearch: pure, no I/O.

Only what is translated here is applied; everything else is reported as unsupported so that the facade can
refuse it (Prefer: handling=strict) or leave it out of the self link, never answer as if it had filtered.
Access is not decided here: every condition goes to the dossier's one search query, ANDed to the grant.
Token semantics follow FHIR: a comma is an OR, a repeated parameter an AND, a system that is not the one
the facade emits matches nothing, and so does a code outside the value's code system.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from services.common.codes import CATEGORIES, INS_SYSTEM
from services.common.errors import DmpError
from services.gateway import fhir_mapping as mapping

MAX_COUNT = 100  # the largest page served; a larger count_of is served at this size
DEFAULT_COUNT = 50
STATUS_SYSTEM = "http://hl7.org/fhir/document-reference-status"
STATUSES = {
    "current": ["current"],
    "superseded": ["replaced"],
    "entered-in-error": [],
}  # deleted: never listed
LOCAL = ZoneInfo("Europe/Paris")  # a date without a time is a day of the DMP's local calendar
DATE_VALUE = re.compile(
    r"^(?P<year>\d{4})(-(?P<month>\d{2})(-(?P<day>\d{2})"
    r"(T(?P<hour>\d{2}):(?P<minute>\d{2})(:(?P<second>\d{2})(?P<fraction>\.\d{1,9})?)?"
    r"(?P<zone>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)
DATE_PREFIXES = ("eq", "ge", "gt", "le", "lt", "sa", "eb")
SUPPORTED = (
    "patient",
    "patient.identifier",
    "_id",
    "identifier",
    "category",
    "type",
    "status",
    "isArchived",
    "security-label",
    "relatesto",
    "date",
    "period",
    "creation",
    "_lastUpdated",
    "setting",
    "facility",
    "event",
    "format",
    "related",
    "author.given",
    "author.family",
    "_count",
    "_cursor",
)
# The codes its source gave, searched as FHIR tokens: the DocumentSearch field of each parameter. A comma is an
# OR, a repeat an AND (a document has several events, a concept several codings), any system is ours to match.
CODED = {
    "setting": "practice_setting",
    "facility": "facility_type",
    "event": "event",
    "format": "format_code",
    "related": "related",
}
# String search on the author's registered name (a chain on author, the contained Practitioner's HumanName): the
# DocumentSearch field of each parameter, with `:exact` the part as registered, else a prefix, case and accents
# aside. A comma is an OR (an escaped comma, `\,`, is refused: the dossier splits on every comma), a repeat an AND.
NAMES = {"author.given": "author_given", "author.family": "author_family"}
EXACT = ":exact"
MAX_NAME_LENGTH = 100
MAX_CODED_LENGTH = 2000  # one occurrence's OR-list (the dossier's limit)
# related is a reference: context.related holds identifiers only (PDSm's referenceIdList), found by
# related:identifier=system|value; a literal reference (related=Encounter/1) is one no document carries.
RELATED_BY_IDENTIFIER = "related:identifier"
CONFIDENTIALITY_CODES = (
    "N",
    "R",
    "V",
)  # HL7 v3 Confidentiality, as DocumentReference.securityLabel shows it
VISIBILITY_CODES = (
    "INVISIBLE_PATIENT",
    "INVISIBLE_REPRESENTANTS_LEGAUX",
    "MASQUE_PS",
    "MASQUE_PSOCIAL",
    "MASQUE_PT",
)  # TRE_A07 StatutVisibiliteDocument
MAX_LABEL_GROUPS = 10  # repeated security-label parameters (the dossier's limit)
DATES = {
    "date": ("created_from", "created_before"),
    "_lastUpdated": ("updated_from", "updated_before"),
}


class InvalidSearch(DmpError):
    """A search parameter the facade knows, with a value it cannot use (or one it does not know, under
    Prefer: handling=strict): 400, the parameter named."""

    code = "invalid_search"
    status = 400

    @classmethod
    def of(cls, parameter: str, reason: str) -> InvalidSearch:
        return cls(f"{parameter}: {reason}", [{"field": parameter, "reason": reason}])


@dataclass
class Search:
    """A search as the dossier will run it: which patient (INS or id), the DocumentSearch payload, the
    parameters applied (in the order given, for the self link) and those left unapplied."""

    ins: str | None = None
    query: dict[str, Any] = field(default_factory=dict)
    applied: list[tuple[str, str]] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    matches_nothing: bool = False  # a patient.identifier in another system: no patient of ours


def parse(pairs: list[tuple[str, str]]) -> Search:
    search = Search()
    tokens: dict[str, list[set[str]]] = {}
    archived: list[set[bool]] = []  # isArchived occurrences, each an OR
    periods: list[dict[str, date]] = []  # period occurrences, each a bound or two (ANDed)
    lowers: dict[str, list[datetime]] = {name: [] for name in (*DATES, "creation")}
    uppers: dict[str, list[datetime]] = {name: [] for name in (*DATES, "creation")}
    for name, value in pairs:
        if value == "":
            continue  # FHIR: a parameter without a value is ignored
        if name in CODED or name == RELATED_BY_IDENTIFIER:
            search.applied.append((name, value))
            _apply_coded(search.query, name, value)
            continue
        if name.removesuffix(EXACT) in NAMES:
            search.applied.append((name, value))
            apply_name(search.query, name, value, NAMES)
            continue
        if name not in SUPPORTED:
            if name not in search.unsupported:
                search.unsupported.append(name)
            continue
        search.applied.append((name, value))
        # identifier: a document has several (ours, its source's), so a repeat is no intersection of values.
        once = name in {"_count", "_cursor", "patient", "patient.identifier", "identifier"}
        if once and any(earlier == name for earlier, _ in search.applied[:-1]):
            raise InvalidSearch.of(name, "is given more than once")
        if name == "patient":
            search.query["patient_id"] = patient_id_of(value)
        elif name == "patient.identifier":
            ins = ins_of(value)
            search.ins, search.matches_nothing = (ins, False) if ins else (None, True)
        elif name == "isArchived":
            archived.append(_booleans(name, value))
        elif name == "security-label":
            labels = search.query.setdefault("security_label", [])
            if len(labels) == MAX_LABEL_GROUPS:
                raise InvalidSearch.of(name, f"is repeated at most {MAX_LABEL_GROUPS} times")
            labels.append(",".join(sorted(_labels(value))))
        elif name == "period":
            periods.append(period_bounds(value))
        elif name in {"date", "creation", "_lastUpdated"}:
            lower, upper = date_bounds(name, value)
            if lower:
                lowers[name].append(lower)
            if upper:
                uppers[name].append(upper)
        elif name == "_count":
            search.query["limit"] = count_of(value)
            search.applied[-1] = (
                name,
                str(search.query["limit"]),
            )  # the self link says the size served
        elif name == "_cursor":
            search.query["cursor"] = value
        else:
            tokens.setdefault(name, []).append(_codes(name, value))
    if search.ins is None and "patient_id" not in search.query and not search.matches_nothing:
        raise InvalidSearch.of(
            "patient",
            f"patient (Patient/<id>) or patient.identifier ({INS_SYSTEM}|<INS>) is required",
        )
    _apply_tokens(search.query, tokens)
    if archived:
        _apply_archived(search.query, set.intersection(*archived))
    _apply_dates(search.query, lowers, uppers)
    _apply_periods(search.query, periods)
    search.query.setdefault("limit", DEFAULT_COUNT)
    return search


def patient_id_of(value: str) -> str:
    """`Patient/<id>`, an absolute URL ending so, or the bare id; one patient per search."""
    if "," in value:
        raise InvalidSearch.of("patient", "names one patient per search")
    reference = value.rsplit("/", 2)
    if len(reference) > 1 and reference[-2] != "Patient":
        raise InvalidSearch.of("patient", "must reference a Patient (Patient/<id>)")
    return mapping.patient_id(reference[-1])


def ins_of(value: str) -> str | None:
    """The INS of `system|value` or of a bare value; None for an identifier in another system."""
    if "," in value:
        raise InvalidSearch.of("patient.identifier", "names one patient per search")
    system, bar, ins = value.rpartition("|")
    if bar and system != INS_SYSTEM:
        return None
    return ins


def _apply_coded(query: dict[str, Any], name: str, value: str) -> None:
    """One occurrence of a coded parameter: one more group, ANDed to the others."""
    field = CODED[name.split(":")[0]]
    groups = query.setdefault(field, [])
    if len(groups) == MAX_LABEL_GROUPS:
        raise InvalidSearch.of(name, f"is repeated at most {MAX_LABEL_GROUPS} times")
    if len(value) > MAX_CODED_LENGTH:
        raise InvalidSearch.of(name, f"is at most {MAX_CODED_LENGTH} characters")
    if any(not token.strip() for token in value.split(",")):
        raise InvalidSearch.of(name, "lists system|code tokens separated by commas, none empty")
    # A literal reference names nothing context.related holds: an empty group matches nothing.
    groups.append("" if name == "related" else value)


def apply_name(query: dict[str, Any], name: str, value: str, fields: dict[str, str]) -> None:
    """One occurrence of a name parameter (`fields` gives each its search field): one more group of values,
    ANDed to the others."""
    field = fields[name.removesuffix(EXACT)] + ("_exact" if name.endswith(EXACT) else "")
    groups = query.setdefault(field, [])
    if len(groups) == MAX_LABEL_GROUPS:
        raise InvalidSearch.of(name, f"is repeated at most {MAX_LABEL_GROUPS} times")
    names = value.split(",")
    if "\\," in value or any(not each.strip() or len(each) > MAX_NAME_LENGTH for each in names):
        raise InvalidSearch.of(
            name, f"lists names of 1 to {MAX_NAME_LENGTH} characters, separated by commas"
        )
    if len(names) > 10:
        raise InvalidSearch.of(name, "lists at most 10 names")
    groups.append(value)


def count_of(value: str) -> int:
    if not value.isdigit():
        raise InvalidSearch.of("_count", "must be a whole number (0 for the total alone)")
    return min(int(value), MAX_COUNT)


def _codes(name: str, value: str) -> set[str]:
    """What one occurrence of a token parameter matches, in the dossier's terms (an OR of its values)."""
    matched: set[str] = set()
    for token in value.split(","):
        system, bar, code = token.rpartition("|")
        matched.update(_code(name, system if bar else None, code))
    return matched


def _booleans(name: str, value: str) -> set[bool]:
    values: set[bool] = set()
    for flag in value.split(","):
        if flag not in {"true", "false"}:
            raise InvalidSearch.of(name, "must be true or false (a comma-separated list is an OR)")
        values.add(flag == "true")
    return values


def _apply_archived(query: dict[str, Any], wanted: set[bool]) -> None:
    """PDSm's isArchived: an archived document shows status current with isArchived true; every other shows
    false. Without it a search finds no archived document (the DMP hides them from default searches)."""
    statuses = query.get("status", STATUSES["current"])
    kept = [
        status for status in statuses if False in wanted
    ]  # current and replaced are not archived
    if True in wanted and "current" in statuses:
        kept.append("archived")
    query["status"] = kept


def _labels(value: str) -> set[str]:
    """One security-label occurrence: the labels it names (an OR), each in the system the facade emits it in.
    An empty set (nothing matches) when it names none of ours: another system, "|code", an unknown code."""
    labels: set[str] = set()
    for token in value.split(","):
        system, bar, code = token.rpartition("|")
        emitted_in = (
            mapping.CONFIDENTIALITY
            if code in CONFIDENTIALITY_CODES
            else mapping.VISIBILITY_SYSTEM
            if code in VISIBILITY_CODES
            else None
        )
        if emitted_in is not None and (not bar or system == emitted_in):
            labels.add(code)
    return labels


def _code(name: str, system: str | None, code: str) -> list[str]:
    if name == "status":
        if code not in STATUSES:
            raise InvalidSearch.of("status", "must be current, superseded or entered-in-error")
        return STATUSES[code] if system in {None, STATUS_SYSTEM} else []
    if name == "category":
        return [code] if system in {None, mapping.CLASS_SYSTEM} and code in CATEGORIES else []
    if name == "type":
        return [code] if system in {None, mapping.type_system(code)} and len(code) <= 64 else []
    # _id is a FHIR id (our id); identifier is DocumentReference.identifier (our id) or masterIdentifier.
    if name == "relatesto":
        return _replaced(code if system is None else f"{system}|{code}")
    if name == "_id":
        document_id = mapping.searched_document_id(code)
        return [document_id] if system is None and document_id else []
    if mapping.is_document_id(code):
        return [code] if system in {None, mapping.DOCUMENT_SYSTEM} else []
    return [code] if system in {None, mapping.URI_SYSTEM} and mapping.UNIQUE_ID.match(code) else []


def _replaced(reference: str) -> list[str]:
    """relatesto: `DocumentReference/<id>`, an absolute URL ending so, or the bare id (the document a new version
    replaces, DocumentReference.relatesTo.target). An id no document of ours can have matches nothing."""
    steps = reference.rsplit("/", 2)
    if len(steps) > 1 and steps[-2] != "DocumentReference":
        raise InvalidSearch.of(
            "relatesto", "must reference a DocumentReference (DocumentReference/<id>)"
        )
    document_id = mapping.searched_document_id(steps[-1])
    return [document_id] if document_id else []


def _apply_tokens(query: dict[str, Any], tokens: dict[str, list[set[str]]]) -> None:
    fields = {
        "category": "category",
        "type": "type_code",
        "status": "status",
        "_id": "document_id",
        "identifier": "identifier",
        "relatesto": "replaces",
    }
    for name, occurrences in tokens.items():
        wanted = set.intersection(*occurrences)  # a repeated parameter is an AND
        key = fields[name]
        query[key] = sorted(wanted & set(query[key])) if key in query else sorted(wanted)


# FHIR date search on a Period (context.period: the date of care to care_end's day, ongoing without an end), for
# a value covering the days [first, last]: which bound of the dossier's search each prefix sets, and to what day.
PERIOD_PREFIXES: dict[str, tuple[str, Callable[[date, date], date]]] = {
    "eq": ("care_starts_from", lambda first, last: first),  # and ends by `last`: see period_bounds
    "ge": (
        "care_ends_from",
        lambda first, last: first,
    ),  # ends on or after it starts, or is ongoing
    "gt": ("care_ends_from", lambda first, last: last + timedelta(days=1)),  # goes on after it
    "le": ("care_starts_to", lambda first, last: last),  # started by its end
    "lt": ("care_starts_to", lambda first, last: first - timedelta(days=1)),  # started before it
    "sa": ("care_starts_from", lambda first, last: last + timedelta(days=1)),  # starts after it
    "eb": ("care_ends_to", lambda first, last: first - timedelta(days=1)),  # ended before it
}
PERIOD_LOWER = (
    "care_starts_from",
    "care_ends_from",
)  # repeated, the latest; the others, the earliest


def period_bounds(value: str) -> dict[str, date]:
    """The dossier's period bounds one `period` value sets: `eq` keeps a period lying within the value's days,
    `ge` one ending on or after its first day (or ongoing), `le` one starting by its last day, `gt`, `lt`, `sa`
    and `eb` the same, strictly."""
    name = "period"
    prefix, text = _prefixed(name, value)
    start, end = _date_range(name, text)
    first, last = start.date(), end.date() - timedelta(days=1)
    bound, day = PERIOD_PREFIXES[prefix]
    bounds = {bound: day(first, last)}
    if prefix == "eq":
        bounds["care_ends_to"] = last
    return bounds


def _apply_periods(query: dict[str, Any], periods: list[dict[str, date]]) -> None:
    """Repeated period values AND: the latest lower bound and the earliest upper bound of each kind."""
    days: dict[str, list[date]] = {}
    for bounds in periods:
        for bound, day in bounds.items():
            days.setdefault(bound, []).append(day)
    for bound, found in days.items():
        query[bound] = (max(found) if bound in PERIOD_LOWER else min(found)).isoformat()


def date_bounds(name: str, value: str) -> tuple[datetime | None, datetime | None]:
    """(inclusive lower, exclusive upper) instants a date comparison keeps, for a target that is an instant
    (`date`, DocumentReference.date; `_lastUpdated`, meta.lastUpdated; `creation`, the date of care at 00:00Z);
    `period`, a range, has period_bounds."""
    prefix, text = _prefixed(name, value)
    start, end = _date_range(name, text)
    return {
        "eq": (start, end),
        "ge": (start, None),
        "gt": (end, None),
        "sa": (end, None),
        "le": (None, end),
        "lt": (None, start),
        "eb": (None, start),
    }[prefix]


def _prefixed(name: str, value: str) -> tuple[str, str]:
    """A date value's prefix (eq when none) and its date."""
    if "," in value:
        raise InvalidSearch.of(
            name, "takes one value per parameter; repeat the parameter to bound a range"
        )
    prefix, text = (value[:2], value[2:]) if value[:2].isalpha() else ("eq", value)
    if prefix not in DATE_PREFIXES:
        raise InvalidSearch.of(name, f"supports the prefixes {', '.join(DATE_PREFIXES)}")
    return prefix, text


def _date_range(name: str, text: str) -> tuple[datetime, datetime]:
    """The instants a FHIR date value covers, at its precision: [start, end)."""
    found = DATE_VALUE.match(text)
    if not found:
        raise InvalidSearch.of(
            name,
            "must be a FHIR date or dateTime (YYYY, YYYY-MM, YYYY-MM-DD, "
            "YYYY-MM-DDThh:mm:ssZ), after an optional prefix",
        )
    parts = {
        key: int(value)
        for key, value in found.groupdict().items()
        if value is not None and key not in {"zone", "fraction"}
    }
    if "hour" in parts and name == "period":
        raise InvalidSearch.of(
            name, "takes a date (YYYY, YYYY-MM or YYYY-MM-DD): the date of care has no time"
        )
    if "hour" in parts and not found["zone"]:
        raise InvalidSearch.of(name, "needs a time zone with a time (Z or +hh:mm)")
    try:
        if "hour" not in parts:
            year, month, day = parts["year"], parts.get("month", 1), parts.get("day", 1)
            first = date(year, month, day)
            if "day" in parts:
                after = first + timedelta(days=1)
            elif "month" in parts:
                after = date(year + month // 12, month % 12 + 1, 1)
            else:
                after = date(year + 1, 1, 1)
            return _local_midnight(first), _local_midnight(after)
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        raise InvalidSearch.of(name, "is not a date of the calendar") from None
    step = (
        timedelta(milliseconds=1)
        if found["fraction"]
        else timedelta(seconds=1)
        if "second" in parts
        else timedelta(minutes=1)
    )
    return stamp, stamp + step


def _local_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=LOCAL)


def _apply_dates(
    query: dict[str, Any], lowers: dict[str, list[datetime]], uppers: dict[str, list[datetime]]
) -> None:
    """Repeated bounds AND: the latest lower and the earliest upper bound."""
    for name, (lower, upper) in DATES.items():  # instants: DocumentReference.date, meta.lastUpdated
        if lowers[name]:
            query[lower] = max(lowers[name]).astimezone(UTC).isoformat()
        if uppers[name]:
            query[upper] = min(uppers[name]).astimezone(UTC).isoformat()
    # `creation` compares the instant the facade shows as attachment.creation, the date of care at 00:00Z.
    firsts = [_first_day(bound) for bound in lowers["creation"]]
    lasts = [_last_day(bound) for bound in uppers["creation"]]
    if firsts:
        query["care_from"] = max(firsts).isoformat()
    if lasts:
        query["care_to"] = min(lasts).isoformat()


def _first_day(lower: datetime) -> date:
    """The first day whose 00:00Z is at or after `lower`."""
    instant = lower.astimezone(UTC)
    midnight = instant.replace(hour=0, minute=0, second=0, microsecond=0)
    return instant.date() if instant == midnight else instant.date() + timedelta(days=1)


def _last_day(upper: datetime) -> date:
    """The last day whose 00:00Z is strictly before `upper`."""
    instant = upper.astimezone(UTC)
    midnight = instant.replace(hour=0, minute=0, second=0, microsecond=0)
    return instant.date() - timedelta(days=1) if instant == midnight else instant.date()
