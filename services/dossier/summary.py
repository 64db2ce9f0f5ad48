"""The care summary for a professional (issue 22, "Beyond a list"), as pure rules: no broker, no store, no clock.

From the reimbursement feed (class 60) and the documents, one screen: the medicines dispensed over the last
24 months grouped by substance, the exams and acts with their dates (a repeat of the same exam within its
kind's window flagged as possibly redundant), the latest document of each category, and the allergies the
patient wrote in their personal space (class 90). What this actor may see is decided before these rules
run (the grant the document list uses): a part the grant does not cover comes in as None and goes out
as withheld, with the rule that withheld it.

Why a repeat is flagged, and after how long it is not (days between the two dates of care, the previous
one of the same code; on the window's last day still flagged, the day after not):

| kind          | feed system | window  | why |
|---------------|-------------|---------|-----|
| lab_test      | NABM        | 30 days | minimum retest intervals of common outpatient tests are a month or more |
|               |             |         | (TSH six weeks after a dose change, HbA1c three months, lipids a year): the |
|               |             |         | same test within a month in town is the classic duplicate (two prescribers, |
|               |             |         | a result not found). Tests rightly repeated faster (INR, potassium, blood |
|               |             |         | counts under chemotherapy) are exceptions the reader knows: "possibly". |
| technical_act | CCAM        | 90 days | imaging, endoscopy and explorations are seldom repeated within three months |
|               |             |         | without a complication, and X-ray or CT repeats add radiation: the redundant |
|               |             |         | exams the DMP promised to avoid. |
| clinical_act  | NGAP        | none    | consultations, visits, nursing and physiotherapy sessions repeat by design. |
| device        | LPP         | none    | devices and supplies are rented or renewed monthly by design. |

The table is REDUNDANCY_WINDOWS below; every answer carries it, so a reader knows what a flag means.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import TypeAdapter

from services.dossier.feed import HISTORY_MONTHS, months_before
from services.dossier.records import Document, FeedLine


class FeedSystem(StrEnum):
    """The code systems of a reimbursed item (services/dossier/schemas.py ReimbursedItem)."""

    CCAM = "CCAM"
    NGAP = "NGAP"
    CIP13 = "CIP13"
    UCD = "UCD"
    LPP = "LPP"
    NABM = "NABM"


class SubstanceSystem(StrEnum):
    """What a medicine group is keyed by: the ATC class when the feed carried it, else the drug code's own system."""

    ATC = "ATC"
    CIP13 = "CIP13"
    UCD = "UCD"


class ActKind(StrEnum):
    LAB_TEST = "lab_test"  # NABM
    TECHNICAL_ACT = "technical_act"  # CCAM: imaging, endoscopy, surgery, explorations
    CLINICAL_ACT = "clinical_act"  # NGAP: consultations, visits, nursing, physiotherapy
    DEVICE = "device"  # LPP


class Part(StrEnum):
    """The parts of the summary a grant may withhold (documents are filtered by the grant, never withheld)."""

    REIMBURSEMENTS = "reimbursements"  # medicines and acts: class 60
    ALLERGIES = "allergies"  # the personal space: class 90


class Severity(StrEnum):
    MILD = "mild"
    MODERATE = "moderate"
    SEVERE = "severe"


DRUGS = {FeedSystem.CIP13: SubstanceSystem.CIP13, FeedSystem.UCD: SubstanceSystem.UCD}
KIND_OF = {
    FeedSystem.NABM: ActKind.LAB_TEST,
    FeedSystem.CCAM: ActKind.TECHNICAL_ACT,
    FeedSystem.NGAP: ActKind.CLINICAL_ACT,
    FeedSystem.LPP: ActKind.DEVICE,
}


@dataclass(frozen=True)
class RedundancyWindow:
    kind: ActKind
    days: int | None  # None: a repeat is never flagged
    why: str


REDUNDANCY_WINDOWS: dict[ActKind, RedundancyWindow] = {
    window.kind: window
    for window in (
        RedundancyWindow(
            ActKind.LAB_TEST,
            30,
            "common outpatient tests have minimum retest intervals of a month or "
            "more; the same test within a month is the classic duplicate",
        ),
        RedundancyWindow(
            ActKind.TECHNICAL_ACT,
            90,
            "imaging, endoscopy and explorations are seldom repeated within "
            "three months without a complication; X-ray and CT repeats add radiation",
        ),
        RedundancyWindow(
            ActKind.CLINICAL_ACT,
            None,
            "consultations and nursing or physiotherapy sessions repeat by design",
        ),
        RedundancyWindow(
            ActKind.DEVICE, None, "devices and supplies are rented or renewed monthly by design"
        ),
    )
}


# What the rules read


@dataclass(frozen=True)
class FeedItem:
    """One reimbursed item of one feed line."""

    line_id: str
    care_date: date
    system: FeedSystem
    code: str
    quantity: int
    atc: str | None = None

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> tuple[FeedItem, ...]:
        """The items of a stored line (services/dossier/service.py add_reimbursements writes them)."""
        care = date.fromisoformat(str(record["care_date"]))
        return tuple(
            cls(
                str(record["_id"]),
                care,
                FeedSystem(item["system"]),
                str(item["code"]),
                int(item.get("quantity", 1)),
                item.get("atc"),
            )
            for item in record["items"]
        )

    @classmethod
    def of(cls, line: FeedLine) -> tuple[FeedItem, ...]:
        return tuple(
            cls(
                line.line_id,
                line.care_date,
                FeedSystem(item.system),
                item.code,
                item.quantity,
                item.atc,
            )
            for item in line.items
        )


@dataclass(frozen=True)
class DocumentEntry:
    """What the summary shows of a document: enough to name it and open it (GET .../documents/{id})."""

    document_id: str
    category: str
    type_code: str
    title: str
    care_date: date
    created_at: datetime
    author_id: str
    format: str

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> DocumentEntry:
        care = record["care_date"]
        return cls(
            document_id=str(record["_id"]),
            category=str(record["category"]),
            type_code=str(record["type_code"]),
            title=str(record["title"]),
            care_date=care if isinstance(care, date) else date.fromisoformat(str(care)),
            created_at=record["created_at"],
            author_id=str(record["author"]["id"]),
            format=str(record["format"]),
        )

    @classmethod
    def of(cls, document: Document) -> DocumentEntry:
        metadata = document.metadata
        return cls(
            document_id=document.id,
            category=metadata.category,
            type_code=metadata.type_code,
            title=metadata.title,
            care_date=metadata.care_date,
            created_at=document.created_at,
            author_id=document.author_id,
            format=metadata.format,
        )


@dataclass(frozen=True)
class AllergyEntry:
    substance: str
    reaction: str | None
    severity: Severity | None


# What they answer


@dataclass(frozen=True)
class MedicineGroup:
    code_system: SubstanceSystem
    code: str  # the ATC class, or the drug code when the feed gave no class
    drug_codes: tuple[str, ...]  # the CIP13/UCD codes dispensed under it, sorted
    first_dispensed: date
    last_dispensed: date
    dispensings: int  # reimbursed items
    units: int  # boxes or units, summed over the dispensings


@dataclass(frozen=True)
class ActDate:
    care_date: date
    possibly_redundant: bool  # within its kind's window of the previous same exam
    days_since_previous: int | None


@dataclass(frozen=True)
class ActGroup:
    kind: ActKind
    system: FeedSystem
    code: str
    window_days: int | None
    dates: tuple[ActDate, ...]  # oldest first

    @property
    def possibly_redundant(self) -> bool:
        return any(entry.possibly_redundant for entry in self.dates)

    @property
    def last(self) -> date:
        return self.dates[-1].care_date


@dataclass(frozen=True)
class LatestDocument:
    category: str
    count: int  # this category's documents this actor may see
    document: DocumentEntry


@dataclass(frozen=True)
class Withheld:
    part: Part
    rule: str  # the rule that withheld it (services/common/rulebook.py)


@dataclass(frozen=True)
class CareSummary:
    since: date  # the first day of the 24 months
    until: date
    medicines: tuple[MedicineGroup, ...] | None  # None: withheld
    acts: tuple[ActGroup, ...] | None
    allergies: tuple[AllergyEntry, ...] | None
    latest_documents: tuple[LatestDocument, ...]
    withheld: tuple[Withheld, ...]
    redundancy_windows: tuple[RedundancyWindow, ...]


# The rules


def window_start(today: date) -> date:
    """The first day of the summary: 24 months back, the feed's own history (the oldest day is in)."""
    return months_before(today, HISTORY_MONTHS)


def _within(items: Iterable[FeedItem], today: date) -> list[FeedItem]:
    since = window_start(today)
    return [item for item in items if since <= item.care_date <= today]


def medicines(items: Iterable[FeedItem], today: date) -> tuple[MedicineGroup, ...]:
    """Dispensed drugs grouped by substance, most recently dispensed first. A drug code the feed once gave an
    ATC class for is grouped under that class on its other lines too (the latest class given wins)."""
    drugs = sorted(
        (item for item in _within(items, today) if item.system in DRUGS), key=lambda i: i.care_date
    )
    atc_of = {item.code: item.atc for item in drugs if item.atc}
    grouped: dict[tuple[SubstanceSystem, str], list[FeedItem]] = defaultdict(list)
    for item in drugs:
        atc = atc_of.get(item.code)
        grouped[(SubstanceSystem.ATC, atc) if atc else (DRUGS[item.system], item.code)].append(item)
    groups = [
        MedicineGroup(
            code_system=system,
            code=code,
            drug_codes=tuple(sorted({i.code for i in members})),
            first_dispensed=members[0].care_date,
            last_dispensed=members[-1].care_date,
            dispensings=len(members),
            units=sum(i.quantity for i in members),
        )
        for (system, code), members in grouped.items()
    ]
    return tuple(
        sorted(groups, key=lambda g: (-g.last_dispensed.toordinal(), g.code_system, g.code))
    )


def acts(items: Iterable[FeedItem], today: date) -> tuple[ActGroup, ...]:
    """Exams and acts by code, each with its dates; most recent first."""
    grouped: dict[tuple[FeedSystem, str], list[date]] = defaultdict(list)
    for item in _within(items, today):
        if item.system in KIND_OF:
            grouped[(item.system, item.code)].append(item.care_date)
    groups = []
    for (system, code), days in grouped.items():
        kind = KIND_OF[system]
        window = REDUNDANCY_WINDOWS[kind].days
        dates: list[ActDate] = []
        previous: date | None = None
        for day in sorted(days):
            since_previous = (day - previous).days if previous is not None else None
            redundant = (
                window is not None and since_previous is not None and since_previous <= window
            )
            dates.append(ActDate(day, redundant, since_previous))
            previous = day
        groups.append(ActGroup(kind, system, code, window, tuple(dates)))
    return tuple(sorted(groups, key=lambda g: (-g.last.toordinal(), g.system, g.code)))


def latest_per_category(documents: Iterable[DocumentEntry]) -> tuple[LatestDocument, ...]:
    """The latest document of each category (latest care date, then latest deposit), by category code. The
    documents given are those this actor may see: nothing here can bring back one the grant hid."""
    by_category: dict[str, list[DocumentEntry]] = defaultdict(list)
    for document in documents:
        by_category[document.category].append(document)
    return tuple(
        LatestDocument(
            category,
            len(members),
            max(members, key=lambda d: (d.care_date, d.created_at, d.document_id)),
        )
        for category, members in sorted(by_category.items())
    )


def allergies_of(personal_space: Mapping[str, Any]) -> tuple[AllergyEntry, ...]:
    """The allergies of a personal space's content (schemas.PersonalSpace as JSON), in the patient's order."""
    return tuple(
        AllergyEntry(
            str(entry["substance"]),
            entry.get("reaction"),
            Severity(entry["severity"]) if entry.get("severity") else None,
        )
        for entry in personal_space.get("allergies") or []
    )


def summarise(
    today: date,
    *,
    feed: Sequence[FeedItem] | None,
    documents: Iterable[DocumentEntry],
    allergies: Sequence[AllergyEntry] | None,
    withheld: Sequence[Withheld],
) -> CareSummary:
    """The summary. A part given as None must be withheld, and a withheld part must not be given: the caller's
    grant decided, and a disagreement here is a bug, not something to paper over."""
    parts = {entry.part for entry in withheld}
    for part, given in (
        (Part.REIMBURSEMENTS, feed is not None),
        (Part.ALLERGIES, allergies is not None),
    ):
        if given == (part in parts):
            raise ValueError(f"{part.value}: either given or withheld, not both nor neither")
    return CareSummary(
        since=window_start(today),
        until=today,
        medicines=medicines(feed, today) if feed is not None else None,
        acts=acts(feed, today) if feed is not None else None,
        allergies=tuple(allergies) if allergies is not None else None,
        latest_documents=latest_per_category(documents),
        withheld=tuple(withheld),
        redundancy_windows=tuple(REDUNDANCY_WINDOWS.values()),
    )


_JSON = TypeAdapter(CareSummary)


def to_json(care: CareSummary) -> dict[str, Any]:
    """The summary as it crosses the bus (schemas.CareSummary reads it back: a test holds the two together)."""
    answer: dict[str, Any] = _JSON.dump_python(care, mode="json")
    for group, typed in zip(answer["acts"] or [], care.acts or (), strict=True):
        group["possibly_redundant"] = (
            typed.possibly_redundant
        )  # a property: dataclasses dump fields only
    return answer
