"""The care summary's rules (services/dossier/summary.py), pure: no broker, no store, no clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from services.dossier import summary
from services.dossier.schemas import Allergy, CareSummary, PersonalSpace, ReimbursedItem
from services.dossier.summary import (
    REDUNDANCY_WINDOWS,
    ActKind,
    AllergyEntry,
    DocumentEntry,
    FeedItem,
    FeedSystem,
    Part,
    Severity,
    SubstanceSystem,
    Withheld,
)

TODAY = date(2026, 11, 23)
SINCE = date(
    2024, 11, 23
)  # 24 months before TODAY, the same day (services/dossier/feed.py months_before)


def item(
    system: str,
    code: str,
    day: date,
    *,
    atc: str | None = None,
    quantity: int = 1,
    line_id: str = "L",
) -> FeedItem:
    return FeedItem(
        line_id=line_id,
        care_date=day,
        system=FeedSystem(system),
        code=code,
        quantity=quantity,
        atc=atc,
    )


def drug(code: str, day: date, **kwargs: object) -> FeedItem:
    return item("CIP13", code, day, **kwargs)  # type: ignore[arg-type]


def doc(
    document_id: str, category: str, care: date, created: datetime | None = None
) -> DocumentEntry:
    return DocumentEntry(
        document_id=document_id,
        category=category,
        type_code="11488-4",
        title="t",
        care_date=care,
        created_at=created or datetime(2026, 1, 1, tzinfo=UTC),
        author_id="rpps:1",
        format="application/pdf",
    )


# Medicines: grouped by substance, within 24 months


def test_medicines_with_one_atc_class_are_one_group_with_first_last_and_counts() -> None:
    groups = summary.medicines(
        [
            drug("3400930000001", date(2025, 1, 10), atc="C10AA05", quantity=2),
            drug(
                "3400930000002", date(2026, 3, 1), atc="C10AA05"
            ),  # another box of the same substance
            drug("3400930000001", date(2025, 6, 1), atc="C10AA05"),
        ],
        TODAY,
    )
    assert len(groups) == 1
    (group,) = groups
    assert (group.code_system, group.code) == (SubstanceSystem.ATC, "C10AA05")
    assert group.drug_codes == ("3400930000001", "3400930000002")
    assert (group.first_dispensed, group.last_dispensed) == (date(2025, 1, 10), date(2026, 3, 1))
    assert (group.dispensings, group.units) == (3, 4)


def test_a_drug_without_atc_is_grouped_by_its_own_code() -> None:
    groups = summary.medicines(
        [
            drug("3400930000003", date(2026, 1, 1)),
            item("UCD", "9000001", date(2026, 2, 1)),
            drug("3400930000004", date(2026, 3, 1)),
        ],
        TODAY,
    )
    assert [(g.code_system, g.code) for g in groups] == [
        (SubstanceSystem.CIP13, "3400930000004"),
        (SubstanceSystem.UCD, "9000001"),
        (SubstanceSystem.CIP13, "3400930000003"),
    ]  # most recently dispensed first


def test_a_drug_code_seen_once_with_its_atc_takes_it_on_the_lines_without() -> None:
    groups = summary.medicines(
        [
            drug("3400930000005", date(2025, 5, 1)),
            drug("3400930000005", date(2025, 8, 1), atc="N02BE01"),
        ],
        TODAY,
    )
    assert [(g.code, g.dispensings, g.first_dispensed) for g in groups] == [
        ("N02BE01", 2, date(2025, 5, 1))
    ]


def test_acts_devices_and_lab_tests_are_not_medicines() -> None:
    assert (
        summary.medicines(
            [
                item("CCAM", "ZBQK002", TODAY),
                item("NABM", "1577", TODAY),
                item("NGAP", "G", TODAY),
                item("LPP", "1234567", TODAY),
            ],
            TODAY,
        )
        == ()
    )


@pytest.mark.parametrize(
    "day, kept",
    [
        (SINCE, True),  # the oldest day of the 24 months is in
        (SINCE - timedelta(days=1), False),
        (TODAY, True),
        (TODAY + timedelta(days=1), False),  # a line dated in the future is no history
    ],
)
def test_the_24_month_window_edges(day: date, kept: bool) -> None:
    assert bool(summary.medicines([drug("3400930000006", day)], TODAY)) is kept
    assert bool(summary.acts([item("NABM", "1577", day)], TODAY)) is kept


def test_the_window_starts_24_months_back_or_at_the_months_last_day() -> None:
    assert summary.window_start(TODAY) == SINCE
    assert summary.window_start(date(2026, 2, 28)) == date(2024, 2, 28)
    assert summary.window_start(date(2028, 2, 29)) == date(2026, 2, 28)


# Exams and acts: dates, and repeats within the kind's window flagged


def flags(system: str, code: str, days: list[int]) -> list[bool]:
    start = date(2026, 1, 1)
    (group,) = summary.acts([item(system, code, start + timedelta(days=d)) for d in days], TODAY)
    return [d.possibly_redundant for d in group.dates]


@pytest.mark.parametrize(
    "kind, system", [(ActKind.LAB_TEST, "NABM"), (ActKind.TECHNICAL_ACT, "CCAM")]
)
def test_a_repeat_on_the_windows_last_day_is_flagged_and_the_day_after_is_not(
    kind: ActKind, system: str
) -> None:
    days = REDUNDANCY_WINDOWS[kind].days
    assert days is not None
    assert flags(system, "X1", [0, days]) == [False, True]
    assert flags(system, "X1", [0, days + 1]) == [False, False]


def test_the_window_is_counted_from_the_previous_same_exam() -> None:
    lab = REDUNDANCY_WINDOWS[ActKind.LAB_TEST].days
    assert lab is not None
    assert flags("NABM", "1577", [0, lab + 1, 2 * lab + 1]) == [False, False, True]


def test_the_same_exam_twice_the_same_day_is_flagged() -> None:
    assert flags("NABM", "1577", [0, 0]) == [False, True]


def test_clinical_acts_and_devices_are_never_flagged() -> None:
    assert flags("NGAP", "G", [0, 0, 1]) == [False, False, False]
    assert flags("LPP", "1234567", [0, 1]) == [False, False]


def test_different_exams_of_one_kind_do_not_flag_each_other() -> None:
    groups = summary.acts(
        [item("NABM", "1577", date(2026, 1, 1)), item("NABM", "0996", date(2026, 1, 2))], TODAY
    )
    assert [(g.code, g.possibly_redundant) for g in groups] == [("0996", False), ("1577", False)]


def test_acts_say_their_kind_window_and_days_since_the_previous() -> None:
    (group,) = summary.acts(
        [item("CCAM", "ZBQK002", date(2026, 2, 10)), item("CCAM", "ZBQK002", date(2026, 1, 1))],
        TODAY,
    )
    assert (group.kind, group.window_days, group.possibly_redundant) == (
        ActKind.TECHNICAL_ACT,
        90,
        True,
    )
    assert [(d.care_date, d.days_since_previous) for d in group.dates] == [
        (date(2026, 1, 1), None),
        (date(2026, 2, 10), 40),
    ]


def test_every_act_kind_has_a_documented_window() -> None:
    assert set(REDUNDANCY_WINDOWS) == set(ActKind)
    assert all(window.why for window in REDUNDANCY_WINDOWS.values())


# The latest document of each category


def test_the_latest_document_of_a_category_is_the_latest_care_then_the_latest_deposit() -> None:
    early, late = datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 5, 2, tzinfo=UTC)
    latest = summary.latest_per_category(
        [
            doc(
                "doc_old", "10", date(2026, 1, 1), datetime(2026, 6, 1, tzinfo=UTC)
            ),  # deposited last, older care
            doc("doc_first_deposit", "10", date(2026, 4, 1), early),
            doc("doc_second_deposit", "10", date(2026, 4, 1), late),
            doc("doc_lab", "11", date(2025, 1, 1)),
        ]
    )
    assert [(entry.category, entry.document.document_id, entry.count) for entry in latest] == [
        ("10", "doc_second_deposit", 3),
        ("11", "doc_lab", 1),
    ]


def test_no_documents_no_categories() -> None:
    assert summary.latest_per_category([]) == ()


def test_a_document_record_keeps_only_what_the_summary_shows() -> None:
    record = {
        "_id": "doc_1",
        "category": "31",
        "type_code": "18748-4",
        "title": "Radio",
        "care_date": "2026-03-02",
        "created_at": datetime(2026, 3, 3, tzinfo=UTC),
        "author": {"id": "rpps:10000000009", "kind": "x"},
        "format": "application/pdf",
        "visibility": ["MASQUE_PS"],
        "sha256": "ab",
    }
    entry = DocumentEntry.from_record(record)
    assert entry.care_date == date(2026, 3, 2) and entry.author_id == "rpps:10000000009"


# Allergies, beside the medicines


def test_allergies_come_from_the_personal_space_typed() -> None:
    content = PersonalSpace(
        allergies=[
            Allergy(substance="Pénicilline", severity="severe"),
            Allergy(substance="Latex", reaction="urticaire"),
        ]
    )
    allergies = summary.allergies_of(content.model_dump(mode="json"))
    assert allergies == (
        AllergyEntry("Pénicilline", None, Severity.SEVERE),
        AllergyEntry("Latex", "urticaire", None),
    )
    assert summary.allergies_of(PersonalSpace().model_dump(mode="json")) == ()


# The whole summary, and what it withholds


def test_a_withheld_part_is_absent_and_said_so_with_its_rule() -> None:
    care = summary.summarise(
        TODAY,
        feed=None,
        documents=[doc("doc_1", "10", TODAY)],
        allergies=None,
        withheld=(
            Withheld(Part.REIMBURSEMENTS, "R-MATRIX-CATEGORY"),
            Withheld(Part.ALLERGIES, "R-MATRIX-CATEGORY"),
        ),
    )
    assert care.medicines is None and care.acts is None and care.allergies is None
    assert [entry.document.document_id for entry in care.latest_documents] == ["doc_1"]
    assert care.since == SINCE and care.until == TODAY


def test_a_part_cannot_be_both_given_and_withheld() -> None:
    with pytest.raises(ValueError, match="reimbursements"):
        summary.summarise(
            TODAY,
            feed=[],
            documents=[],
            allergies=(),
            withheld=(Withheld(Part.REIMBURSEMENTS, "R-MATRIX-CATEGORY"),),
        )
    with pytest.raises(ValueError, match="allergies"):
        summary.summarise(TODAY, feed=[], documents=[], allergies=None, withheld=())


def test_the_summary_as_json_is_what_the_gateway_publishes() -> None:
    care = summary.summarise(
        TODAY,
        feed=[
            drug("3400930000001", date(2026, 1, 1), atc="C10AA05"),
            item("NABM", "1577", date(2026, 1, 1)),
            item("NABM", "1577", date(2026, 1, 5)),
        ],
        documents=[doc("doc_1", "10", TODAY)],
        allergies=(AllergyEntry("Latex", None, Severity.MILD),),
        withheld=(),
    )
    published = CareSummary.model_validate(summary.to_json(care))  # extra="forbid": no field drifts
    assert published.medicines is not None and published.medicines[0].code == "C10AA05"
    assert published.acts is not None and published.acts[0].dates[1].possibly_redundant is True
    assert published.allergies is not None and published.allergies[0].severity == "mild"
    assert published.latest_documents[0].document.care_date == TODAY
    assert published.redundancy_windows[0].kind in {kind.value for kind in ActKind}


def test_feed_items_from_a_stored_line() -> None:
    record = {
        "_id": "L9",
        "care_date": "2026-01-02",
        "items": [
            {"system": "CIP13", "code": "3400930000001", "quantity": 2, "atc": "C10AA05"},
            {"system": "NABM", "code": "1577", "quantity": 1},
        ],
    }
    assert FeedItem.from_record(record) == (
        FeedItem("L9", date(2026, 1, 2), FeedSystem.CIP13, "3400930000001", 2, "C10AA05"),
        FeedItem("L9", date(2026, 1, 2), FeedSystem.NABM, "1577", 1, None),
    )


# The feed carries the ATC class on drug lines only


@pytest.mark.parametrize("atc", ["C", "C10", "C10A", "C10AA", "C10AA05"])
def test_a_drug_item_may_carry_its_atc_class_at_any_level(atc: str) -> None:
    assert ReimbursedItem(system="CIP13", code="3400930000001", atc=atc).atc == atc


@pytest.mark.parametrize(
    "system, atc",
    [("CIP13", "C10AA5"), ("CIP13", "c10aa05"), ("UCD", "C10AA05X"), ("CCAM", "C10AA05")],
)
def test_a_malformed_atc_or_one_on_an_act_is_refused_naming_the_field(
    system: str, atc: str
) -> None:
    with pytest.raises(ValidationError) as error:
        ReimbursedItem.model_validate({"system": system, "code": "3400930000001", "atc": atc})
    assert "atc" in str(error.value)
