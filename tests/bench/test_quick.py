"""The benchmarks never rot: CI runs the quick mode and checks that every section reported numbers.

Nothing here is about speed (the machine is shared; times are reported in bench/RESULTS.md, never asserted).
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.report import report

ROOT = Path(__file__).resolve().parents[2]
SECTIONS = ("floors", "rpc_hop", "end_to_end", "backfill", "scale")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_quick_benchmarks_run_and_report_every_section(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--json-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=880,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary["sections"]) == set(SECTIONS)
    for name in SECTIONS:
        section = json.loads((tmp_path / f"{name}.json").read_text())
        assert section["measures"], name
        for measure in section["measures"]:
            assert measure["count"] > 0 and measure["p50_ms"] > 0 and measure["per_second"] > 0, (
                name,
                measure,
            )
        # Flags and set-up times may be 0 (a reused store, an index already there); every measured figure is not.
        measured = {
            k: v
            for k, v in section["figures"].items()
            if "cache" not in k and "index preparation" not in k
        }
        assert all(value > 0 for value in measured.values()), name
        assert all(isinstance(target["met"], bool) for target in section["targets"]), name
    costs = json.loads((tmp_path / "end_to_end.json").read_text())["costs"]
    assert set(costs) == {"deposit", "read", "search"}  # CPU by process, counted by the kernel
    assert all(
        cost["cpu_ms_total"] > 0
        and {"gateway", "dossier", "consent"} <= set(cost["cpu_ms_by_process"])
        for cost in costs.values()
    ), costs
    assert (
        "== end_to_end" in done.stdout
        and "target:" in done.stdout
        and "cost of one deposit" in done.stdout
    )
    tables = report(tmp_path)  # what goes into bench/RESULTS.md
    assert all(f"**{name}**" in tables for name in SECTIONS) and tables.count("**target:") == sum(
        len(json.loads((tmp_path / f"{name}.json").read_text())["targets"]) for name in SECTIONS
    )
