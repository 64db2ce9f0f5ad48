from datetime import date

from services.dossier.feed import months_before, sort_lines

TODAY = date(2026, 11, 23)


def line(**overrides: object) -> dict[str, object]:
    return {
        "line_id": "L1",
        "ins": "180017512345660",
        "care_date": "2026-10-01",
        "items": [{"system": "CCAM", "code": "QZJA002"}],
        "billed_cents": 2500,
        "reimbursed_cents": 1750,
        **overrides,
    }


def test_months_before_keeps_the_day_or_the_months_last() -> None:
    assert months_before(TODAY, 24) == date(2024, 11, 23)
    assert months_before(date(2026, 3, 31), 1) == date(2026, 2, 28)


def test_each_bad_line_is_refused_alone_with_its_reason() -> None:
    kept, rejected, repeats = sort_lines(
        [
            line(),
            line(line_id="L2", care_date="2024-11-22"),
            line(line_id="L3", care_date="2027-01-01"),
            line(line_id="L4", reimbursed_cents=9999),
            line(line_id="L5", ins="123"),
            line(line_id="L6", items=[]),
            line(),
        ],
        TODAY,
    )
    assert [k.line_id for k in kept] == ["L1"] and repeats == 1
    reasons = {r["line_id"]: r["reason"] for r in rejected}
    assert "older than 24 months" in reasons["L2"]
    assert "future" in reasons["L3"]
    assert "more than billed" in reasons["L4"]
    assert reasons["L5"].startswith("ins:")
    assert reasons["L6"].startswith("items:")


def test_the_oldest_day_allowed_is_kept() -> None:
    kept, rejected, _ = sort_lines([line(care_date="2024-11-23")], TODAY)
    assert kept and not rejected
