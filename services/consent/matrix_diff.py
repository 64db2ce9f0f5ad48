"""Operator command: what changed between two versions of the profession x category matrix.

    python -m services.consent.matrix_diff 2023-10-26 2026-01-01      # versions in services/consent/matrix/
    python -m services.consent.matrix_diff old.yaml new.yaml           # or files

Prints one line per changed cell, e.g. "21 Pharmacien  class 60  read: no -> yes", and the rows added
or removed. Exit status 0 either way; the output is for a person reviewing a decree's effect.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from services.common.codes import CATEGORIES, PROFESSIONS
from services.consent.matrix import MATRIX_DIR, Matrix, load


def diff(old: Matrix, new: Matrix) -> list[str]:
    lines = []
    for code in sorted(set(old.rows) | set(new.rows)):
        label = f"{code} {PROFESSIONS.get(code, '?')}"
        if code not in old.rows:
            lines.append(f"{label}  row added")
        elif code not in new.rows:
            lines.append(f"{label}  row removed")
        for category in sorted(CATEGORIES):
            for right in ("read", "write"):
                before = category in getattr(old.rows.get(code), right, frozenset())
                after = category in getattr(new.rows.get(code), right, frozenset())
                if before != after:
                    yes_no = {True: "yes", False: "no"}
                    lines.append(
                        f"{label}  class {category}  {right}: {yes_no[before]} -> {yes_no[after]}"
                    )
    return lines


def resolve(name: str) -> Path:
    path = Path(name)
    return path if path.suffix in {".yaml", ".yml"} else MATRIX_DIR / f"{name}.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("old")
    parser.add_argument("new")
    args = parser.parse_args()
    old, new = load(resolve(args.old)), load(resolve(args.new))
    changes = diff(old, new)
    print(
        f"matrix {old.version} (from {old.effective_from}) -> {new.version} (from {new.effective_from}): "
        f"{len(changes)} change(s)"
    )
    for line in changes:
        print(f"  {line}")


if __name__ == "__main__":
    main()
