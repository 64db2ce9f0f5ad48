from datetime import date

import pytest

from services.common.majority import eighteenth_birthday, is_minor


@pytest.mark.parametrize(
    "born, of_age",
    [(date(2010, 6, 15), date(2028, 6, 15)), (date(2008, 2, 29), date(2026, 3, 1))],
)
def test_eighteenth_birthday(born: date, of_age: date) -> None:
    assert eighteenth_birthday(born) == of_age


def test_minor_until_the_day_before_the_18th_birthday() -> None:
    assert is_minor(date(2010, 6, 15), date(2028, 6, 14))
    assert not is_minor(date(2010, 6, 15), date(2028, 6, 15))
