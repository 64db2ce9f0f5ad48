"""A Mongo query filter evaluated on documents already fetched: the part of a query the store cannot
answer from an index.

Why: the embedded store (nx-27017) answers equality on indexed fields in SQL, but falls back to loading and
copying the whole collection in Python for `$or`, `$nin`, multi-key sorts and every `count_documents`
(measured: 8 s per search at 90,000 documents; see bench/RESULTS.md). So list queries fetch the few
records of one dossier by an indexed equality, then apply the full filter here. On a real MongoDB this costs
the same (one indexed fetch of one dossier's records). The filter stays the one source of truth (queries.py
builds it; tests hold this evaluation and the real store's together).

The operators the code builds: equality, $in, $nin, $ne, $lt, $lte, $gt, $gte, $exists, $elemMatch, $and, $or; dotted
paths; array fields match when any element does (Mongo's semantics). Anything else is refused loudly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Query = dict[str, Any]
_MISSING = object()


def matches(document: dict[str, Any], query: Query) -> bool:
    for key, condition in query.items():
        if key == "$and":
            if not all(matches(document, part) for part in condition):
                return False
        elif key == "$or":
            if not any(matches(document, part) for part in condition):
                return False
        elif key.startswith("$"):
            raise ValueError(f"unsupported query operator {key}")
        elif not _field_matches(_value(document, key), condition):
            return False
    return True


def _value(document: dict[str, Any], path: str) -> Any:
    value: Any = document
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _candidates(value: Any) -> list[Any]:
    """What a condition is tried against: an array's elements and the array itself; a missing field is null."""
    if value is _MISSING:
        return [None]
    if isinstance(value, list):
        return [*value, value]
    return [value]


def _compare(test: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def check(value: Any, operand: Any) -> bool:
        for candidate in _candidates(value):
            if candidate is None or isinstance(candidate, list):
                continue
            try:
                if test(candidate, operand):
                    return True
            except TypeError:  # Mongo compares within a type only
                continue
        return False

    return check


OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "$in": lambda value, operand: any(candidate in operand for candidate in _candidates(value)),
    "$nin": lambda value, operand: (
        not any(candidate in operand for candidate in _candidates(value))
    ),
    "$ne": lambda value, operand: operand not in _candidates(value),
    "$lt": _compare(lambda a, b: bool(a < b)),
    "$lte": _compare(lambda a, b: bool(a <= b)),
    "$gt": _compare(lambda a, b: bool(a > b)),
    "$gte": _compare(lambda a, b: bool(a >= b)),
    "$exists": lambda value, operand: (value is not _MISSING) == bool(operand),
    # An array with an element (a sub-document) matching the whole sub-query: codes are (system, code) pairs.
    "$elemMatch": lambda value, operand: (
        isinstance(value, list)
        and any(isinstance(element, dict) and matches(element, operand) for element in value)
    ),
}


def _field_matches(value: Any, condition: Any) -> bool:
    if isinstance(condition, dict) and condition and all(key.startswith("$") for key in condition):
        for operator, operand in condition.items():
            test = OPERATORS.get(operator)
            if test is None:
                raise ValueError(f"unsupported query operator {operator}")
            if not test(value, operand):
                return False
        return True
    return condition in _candidates(value)


def newest_first(records: list[dict[str, Any]], order: str) -> list[dict[str, Any]]:
    """Sorted by `order` descending, then _id descending (the order of every paged list)."""
    return sorted(records, key=lambda record: (record.get(order, 0), record["_id"]), reverse=True)
