"""Civil majority at 18, shared by identity (who may be represented) and consent (until when)."""

from __future__ import annotations

from datetime import date


def eighteenth_birthday(birth_date: date) -> date:
    try:
        return birth_date.replace(year=birth_date.year + 18)
    except ValueError:  # born on 29 February: of age on 1 March
        return date(birth_date.year + 18, 3, 1)


def is_minor(birth_date: date, today: date) -> bool:
    return today < eighteenth_birthday(birth_date)
