"""An RPC method's typed boundary (services/common/entrypoints.py `typed`): models in, validated from the JSON
that arrives; models out, as JSON; the signature nameko checks each call against, unchanged."""

from __future__ import annotations

import inspect
from datetime import date
from typing import Any

import pytest
from pydantic import BaseModel

from services.common.entrypoints import typed
from services.common.errors import InvalidInput


class Visit(BaseModel):
    day: date
    reason: str


class Seen(BaseModel):
    day: date
    count: int


class Clinic:
    @typed
    def book(self, token: str, visit: Visit, note: Visit | None = None) -> Seen:
        assert isinstance(visit, Visit) and (note is None or isinstance(note, Visit))
        return Seen(day=visit.day, count=2 if note else 1)

    @typed
    def week(self, visits: list[str]) -> list[Seen]:
        return [Seen(day=date(2026, 12, day), count=len(visits)) for day in (1, 2)]


ON_THE_WIRE: Any = Clinic()  # what nameko calls: JSON in, JSON out


def test_a_model_arrives_validated_and_goes_back_as_json() -> None:
    assert ON_THE_WIRE.book("t", {"day": "2026-12-03", "reason": "rappel"}) == {
        "day": "2026-12-03",
        "count": 1,
    }
    assert ON_THE_WIRE.book(
        "t", {"day": "2026-12-03", "reason": "a"}, note={"day": "2026-12-04", "reason": "b"}
    ) == {"day": "2026-12-03", "count": 2}
    assert ON_THE_WIRE.week(["a"]) == [
        {"day": "2026-12-01", "count": 1},
        {"day": "2026-12-02", "count": 1},
    ]


@pytest.mark.parametrize(
    ("visit", "field"),
    [
        ({"day": "yesterday", "reason": "x"}, "day"),
        ({"day": "2026-12-03"}, "reason"),
        (
            {"day": "2026-12-03", "reason": "x", "extra": 1},
            None,
        ),  # the model's own rule on unknown fields decides
        (None, "body"),  # a required object, sent as null
        ("not an object", "body"),
    ],
)
def test_bad_input_is_refused_naming_the_field(visit: object, field: str | None) -> None:
    if field is None:
        ON_THE_WIRE.book("t", visit)
        return
    with pytest.raises(InvalidInput) as refused:
        ON_THE_WIRE.book("t", visit)
    assert refused.value.details[0]["field"] == field


BOOK: Any = Clinic.book


def test_the_signature_is_the_methods_own_so_a_wrong_call_is_refused_before_any_worker() -> None:
    assert list(inspect.signature(Clinic.book).parameters) == ["self", "token", "visit", "note"]
    with pytest.raises(TypeError):
        inspect.getcallargs(BOOK, None, "t")  # what nameko's check_signature does
    with pytest.raises(TypeError):
        inspect.getcallargs(BOOK, None, "t", {}, {}, {})


class Jobs:
    @typed
    def run(
        self, limit: int = 500, patient_ids: list[str] | None = None, anything: Any = None
    ) -> int:
        assert isinstance(limit, int)
        return limit + len(patient_ids or ())


JOBS: Any = Jobs()


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"limit": "abc"}, "limit"),
        ({"limit": [5]}, "limit"),
        ({"patient_ids": "pat_1"}, "patient_ids"),
        ({"patient_ids": ["pat_1", 7]}, "patient_ids.1"),
    ],
)
def test_a_scalar_of_the_wrong_kind_is_refused_naming_the_parameter(
    arguments: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        JOBS.run(**arguments)
    assert [detail["field"] for detail in refused.value.details] == [field]


def test_a_scalar_arrives_as_its_annotation_says_and_an_any_as_sent() -> None:
    assert JOBS.run("7", ["a", "b"], anything=object()) == 9
    assert JOBS.run() == 500
