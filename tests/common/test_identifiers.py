"""INS and RPPS checks: every valid number accepted, any changed digit refused."""

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.common.identifiers import check_ins, check_rpps, ins_key
from tests.identities import make_ins, make_rpps

seeds = st.integers(min_value=0, max_value=2**32)


@given(seeds)
def test_every_valid_ins_is_accepted(seed: int) -> None:
    ins = make_ins(random.Random(seed))
    assert check_ins(ins) == ins


@given(seeds, st.integers(min_value=0, max_value=14), st.integers(min_value=1, max_value=9))
def test_ins_with_one_changed_digit_is_refused(seed: int, position: int, delta: int) -> None:
    ins = make_ins(random.Random(seed))
    changed = ins[:position] + str((int(ins[position]) + delta) % 10) + ins[position + 1 :]
    with pytest.raises(ValueError):
        check_ins(changed)


@pytest.mark.parametrize("department, numeric", [("2A", "19"), ("2B", "18")])
def test_corsican_ins_key_reads_department_as_number(department: str, numeric: str) -> None:
    ins = make_ins(random.Random(7), corsica=department)
    assert check_ins(ins) == ins
    nir = ins[:13]
    assert int(ins[13:]) == 97 - int(nir[:5] + numeric + nir[7:]) % 97 == ins_key(nir)


def test_ins_known_value_is_accepted() -> None:
    nir = "1800175123456"
    assert check_ins(f"{nir}{97 - int(nir) % 97:02d}")


@pytest.mark.parametrize(
    "value, reason",
    [
        ("18001751234", "15 characters"),
        ("1800175X2345678", "digits"),
        ("780017512345678", "temporary number"),
        ("380017512345608", "start with 1 or 2"),
    ],
)
def test_ins_refusal_says_why(value: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        check_ins(value)


def test_ins_wrong_key_is_refused_with_reason() -> None:
    ins = make_ins(random.Random(1))
    wrong = ins[:13] + f"{(int(ins[13:]) % 97) + 1:02d}"
    with pytest.raises(ValueError, match="key does not match"):
        check_ins(wrong)


@given(seeds)
def test_every_valid_rpps_is_accepted(seed: int) -> None:
    rpps = make_rpps(random.Random(seed))
    assert check_rpps(rpps) == rpps


@given(seeds, st.integers(min_value=0, max_value=10), st.integers(min_value=1, max_value=9))
def test_rpps_with_one_changed_digit_is_refused(seed: int, position: int, delta: int) -> None:
    rpps = make_rpps(random.Random(seed))
    changed = rpps[:position] + str((int(rpps[position]) + delta) % 10) + rpps[position + 1 :]
    with pytest.raises(ValueError, match="Luhn"):
        check_rpps(changed)


@pytest.mark.parametrize(
    "value, reason", [("1234567890", "11 digits"), ("1234567890a", "11 digits")]
)
def test_rpps_refusal_says_why(value: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        check_rpps(value)
