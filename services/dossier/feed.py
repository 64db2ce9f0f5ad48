"""The Assurance Maladie reimbursement feed, as pure rules: which lines are kept, which refused and why."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import ValidationError

from services.common.validation import describe_items
from services.dossier.records import FeedLine
from services.dossier.schemas import ReimbursementLine

HISTORY_MONTHS = 24


def months_before(day: date, months: int) -> date:
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    month += 1
    for candidate in (day.day, 30, 29, 28):  # the same day, or the month's last one
        try:
            return date(year, month, candidate)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def sort_lines(
    raw_lines: list[Any], today: date
) -> tuple[list[ReimbursementLine], list[dict[str, str]], int]:
    """(lines to keep, rejected {line_id, reason}, repeats within the batch). A line's problems never
    affect the others."""
    oldest = months_before(today, HISTORY_MONTHS)
    kept: list[ReimbursementLine] = []
    rejected: list[dict[str, str]] = []
    seen: set[str] = set()
    repeats = 0
    for raw in raw_lines:
        line_id = str(raw.get("line_id", "?")) if isinstance(raw, dict) else "?"
        try:
            line = ReimbursementLine.model_validate(raw)
        except ValidationError as error:
            reasons = "; ".join(
                f"{d['field']}: {d['reason']}" for d in describe_items(error.errors())
            )
            rejected.append({"line_id": line_id, "reason": reasons})
            continue
        if line.care_date < oldest:
            rejected.append(
                {"line_id": line_id, "reason": f"care_date: older than {HISTORY_MONTHS} months"}
            )
        elif line.care_date > today:
            rejected.append({"line_id": line_id, "reason": "care_date: in the future"})
        elif line.reimbursed_cents > line.billed_cents:
            rejected.append({"line_id": line_id, "reason": "reimbursed_cents: more than billed"})
        elif line.line_id in seen:
            repeats += 1  # twice in one batch: a duplicate like any other
        else:
            seen.add(line.line_id)
            kept.append(line)
    return kept, rejected, repeats


def answer(line: FeedLine) -> dict[str, Any]:
    """A stored line as the reimbursements list answers it."""
    return {
        "line_id": line.line_id,
        "care_date": line.care_date.isoformat(),
        "items": [item.model_dump(mode="json", exclude_none=True) for item in line.items],
        "prescriber_rpps": line.prescriber_rpps,
        "billed_cents": line.billed_cents,
        "reimbursed_cents": line.reimbursed_cents,
    }
