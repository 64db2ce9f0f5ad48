"""Which submission sets a search selects, what a caller is shown of one, and how they are paged
(services/dossier/submission_sets.py): pure."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from services.common.errors import InvalidInput
from services.dossier.records import Document, Metadata, SubmissionSet
from services.dossier.schemas import (
    Coded,
    PersonName,
    SubmissionSetSearch,
    SubmissionSetSubmission,
)
from services.dossier.submission_sets import entry_uuid, page, record_of, selected, shown

AT = datetime(2026, 11, 23, 8, tzinfo=UTC)
A, B, C = ("doc_" + letter * 32 for letter in "abc")


def kept(number: int = 1, **extra: object) -> SubmissionSet:
    submission = SubmissionSetSubmission.model_validate(
        {
            "unique_id": f"urn:oid:1.2.250.1.999.{number}",
            "source_id": "urn:oid:1.2.3.4",
            "designation_type": {"system": "https://example.org/J03", "code": "04"},
            **extra,
        }
    )
    return record_of(
        submission,
        f"sub_{number:032x}",
        "dos_1",
        "pat_1",
        {"id": "rpps:10000000009"},
        AT + timedelta(minutes=number),
        [A, B, C],
    )


def document(document_id: str) -> Document:
    metadata = Metadata("10", "11488-4", "CR", date(2026, 11, 20), "application/pdf")
    return Document(document_id, "dos_1", "pat_1", metadata, {"id": "rpps:1"}, AT, 8, "0" * 64)


@pytest.mark.parametrize(
    ("search", "found"),
    [
        ({}, True),
        ({"identifier": ["urn:oid:1.2.250.1.999.1"]}, True),
        ({"identifier": [entry_uuid(f"sub_{1:032x}")]}, True),
        ({"identifier": ["urn:oid:1.2.250.1.999.2"]}, False),
        ({"identifier": []}, False),  # an empty OR matches nothing
        ({"source_id": ["urn:oid:1.2.3.4", "urn:oid:9.9"]}, True),
        ({"source_id": ["urn:oid:9.9"]}, False),
        ({"designation_type": ["04"]}, True),
        ({"designation_type": ["https://example.org/J03|04"]}, True),
        ({"designation_type": ["http://other.org|04"]}, False),
        ({"submission_set_id": [f"sub_{1:032x}"]}, True),
        ({"submission_set_id": [f"sub_{2:032x}"]}, False),
        ({"submitted_from": (AT + timedelta(minutes=1)).isoformat()}, True),
        ({"submitted_before": (AT + timedelta(minutes=1)).isoformat()}, False),
        ({"source_id": ["urn:oid:1.2.3.4"], "designation_type": ["05"]}, False),  # fields AND
    ],
)
def test_a_search_selects_the_sets_matching_every_condition(
    search: dict[str, object], found: bool
) -> None:
    assert selected(kept(), SubmissionSetSearch.model_validate(search)) is found


@pytest.mark.parametrize(
    ("search", "found"),
    [
        ({"source_family": ["le g"]}, True),  # a prefix, case aside
        ({"source_given": ["ELO"]}, True),  # accents aside
        ({"source_given": ["lod"]}, False),  # a prefix, not a substring
        ({"source_given": ["x,el"]}, True),  # an OR
        ({"source_given": ["el", "x"]}, False),  # groups AND
        ({"source_family_exact": ["Le Gall"]}, True),
        ({"source_family_exact": ["le gall"]}, False),
    ],
)
def test_a_search_by_submitter_name_is_a_fhir_string_search(
    search: dict[str, object], found: bool
) -> None:
    named = replace(kept(), author_name=PersonName(given="Élodie", family="Le Gall"))
    assert selected(named, SubmissionSetSearch.model_validate(search)) is found
    assert not selected(kept(), SubmissionSetSearch.model_validate(search))  # kept without a name


def test_a_set_shows_only_the_documents_the_caller_sees_in_order_and_none_is_no_set() -> None:
    view = shown(kept(), {C: document(C), A: document(A)})
    assert view is not None and [d.document_id for d in view.documents] == [A, C]
    assert view.designation_type == Coded(system="https://example.org/J03", code="04")
    assert shown(kept(), {}) is None


def test_pages_are_newest_first_with_an_honest_total_and_a_stable_cursor() -> None:
    visible = {A: document(A)}
    views = [view for n in range(1, 6) if (view := shown(kept(n), visible)) is not None]
    total, first, cursor = page(views, 2, None)
    assert total == 5 and [v.unique_id for v in first] == [
        "urn:oid:1.2.250.1.999.5",
        "urn:oid:1.2.250.1.999.4",
    ]
    total, second, cursor = page(views, 2, cursor)
    _, last, end = page(views, 2, cursor)
    assert [str(v.unique_id)[-1] for v in second + last] == ["3", "2", "1"] and end is None
    assert page(views, 0, None) == (5, [], None)  # the total alone
    with pytest.raises(InvalidInput):
        page(views, 2, "forged")
