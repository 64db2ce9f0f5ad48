"""The versioned matrix: the version in force at decision time, and what changed between two."""

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import yaml

from services.consent import matrix
from services.consent.matrix_diff import diff


def test_every_row_keeps_its_source_and_status() -> None:
    data = yaml.safe_load((matrix.MATRIX_DIR / "2023-10-26.yaml").read_text(encoding="utf-8"))
    assert all(
        row["status"] in {"SOURCED", "MIXED", "INFERRED"} and row["sources"]
        for row in data["rows"].values()
    )


def test_the_version_in_force_is_the_latest_already_effective(tmp_path: Path) -> None:
    versions = (
        matrix.load(matrix.MATRIX_DIR / "2023-10-26.yaml"),
        matrix.load(later_version(tmp_path)),
    )
    assert matrix.in_force(datetime(2026, 11, 23, tzinfo=UTC), versions).version == "2023-10-26"
    assert matrix.in_force(datetime(2027, 2, 1, tzinfo=UTC), versions).version == "2027-01-01"
    assert "60" in matrix.in_force(datetime(2027, 2, 1, tzinfo=UTC), versions).readable("21")


def later_version(tmp_path: Path) -> Path:
    data = yaml.safe_load((matrix.MATRIX_DIR / "2023-10-26.yaml").read_text(encoding="utf-8"))
    data["version"], data["effective_from"] = "2027-01-01", datetime(2027, 1, 1).date()
    data["rows"]["21"]["read"].append("60")
    del data["rows"]["98"]
    path = tmp_path / "2027-01-01.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_diff_names_each_changed_cell_and_row(tmp_path: Path) -> None:
    changes = diff(
        matrix.load(matrix.MATRIX_DIR / "2023-10-26.yaml"), matrix.load(later_version(tmp_path))
    )
    assert "21 Pharmacien  class 60  read: no -> yes" in changes
    assert any(line.startswith("98 ") and "row removed" in line for line in changes)


def test_the_operator_command_prints_the_changes(tmp_path: Path) -> None:
    later = later_version(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "services.consent.matrix_diff", "2023-10-26", str(later)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "matrix 2023-10-26 (from 2023-10-26) -> 2027-01-01 (from 2027-01-01)" in done.stdout
    assert "class 60  read: no -> yes" in done.stdout
