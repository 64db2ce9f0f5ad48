"""The profession x category matrix, loaded from versioned data files in matrix/.

The version in force at a given time is the latest whose `effective_from` is not after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

import yaml

MATRIX_DIR = Path(__file__).with_name("matrix")


@dataclass(frozen=True)
class Row:
    read: frozenset[str]
    write: frozenset[str]


@dataclass(frozen=True)
class Matrix:
    version: str
    effective_from: date
    rows: dict[str, Row]

    def readable(self, profession: str | None) -> frozenset[str]:
        row = self.rows.get(profession or "")
        return row.read if row else frozenset()

    def writable(self, profession: str | None) -> frozenset[str]:
        row = self.rows.get(profession or "")
        return row.write if row else frozenset()


def load(path: Path) -> Matrix:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    rows = {
        str(code): Row(frozenset(map(str, row["read"])), frozenset(map(str, row["write"])))
        for code, row in data["rows"].items()
    }
    return Matrix(str(data["version"]), data["effective_from"], rows)


@lru_cache(maxsize=1)
def all_versions() -> tuple[Matrix, ...]:
    return tuple(
        sorted((load(p) for p in MATRIX_DIR.glob("*.yaml")), key=lambda m: m.effective_from)
    )


def in_force(at: datetime, versions: tuple[Matrix, ...] | None = None) -> Matrix:
    """The version whose effective date is the latest not after `at`: a new decree's file can be added
    ahead of its date and takes effect by itself."""
    candidates = [m for m in (versions or all_versions()) if m.effective_from <= at.date()]
    if not candidates:
        raise LookupError(f"no access matrix is in force on {at.date()}")
    return candidates[-1]
