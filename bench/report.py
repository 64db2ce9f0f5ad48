"""`python -m bench.report [JSON_DIR]`: a run's JSON results (var/bench by default) as the Markdown tables
kept in bench/RESULTS.md: one table per section, figures in italics, targets in bold, met or not."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bench.common import VAR


def section_table(section: dict[str, Any]) -> list[str]:
    lines = [
        f"**{section['section']}**",
        "",
        "| measure | n | callers | p50 ms | p95 ms | p99 ms | per s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for m in section["measures"]:
        lines.append(
            f"| {m['name']} | {m['count']} | {m['callers']} | {m['p50_ms']:.2f} | {m['p95_ms']:.2f} | "
            f"{m['p99_ms']:.2f} | {m['per_second']:.1f} |"
        )
    for name, value in section["figures"].items():
        lines.append(f"| *{name}* | | | | | | {value:.2f} |")
    for target in section["targets"]:
        verdict = "met" if target["met"] else "NOT met"
        lines.append(
            f"| **target: {target['target']}** | | | | | | {target['value']} {target['comparison']} "
            f"{target['limit']} {verdict} |"
        )
    costs = section.get("costs") or {}
    if costs:
        processes = sorted({name for cost in costs.values() for name in cost["cpu_ms_by_process"]})
        lines += [
            "",
            "| one request | CPU ms | " + " | ".join(processes) + " | AMQP messages |",
            "|---|---:|" + "---:|" * len(processes) + "---:|",
        ]
        for kind, cost in costs.items():
            cells = " | ".join(
                f"{cost['cpu_ms_by_process'].get(name, 0):.1f}" for name in processes
            )
            messages = "-" if cost["amqp_messages"] is None else f"{cost['amqp_messages']:.1f}"
            lines.append(f"| {kind} | {cost['cpu_ms_total']:.1f} | {cells} | {messages} |")
    lines += [f"\n{note}" for note in section.get("notes", [])]
    return [*lines, ""]


def report(directory: Path) -> str:
    summary = json.loads((directory / "summary.json").read_text())
    machine = summary["machine"]
    lines = [
        f"Run: {machine['date']}, {machine['host']} ({machine['cpus']} CPUs), load {machine['load_1_5_15']} at "
        f"start / {machine.get('load_1_5_15_at_end')} at end, {summary['seconds']:.1f} s, "
        f"quick={summary['quick']}",
        "",
    ]
    for section in summary["sections"].values():
        lines += section_table(section)
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(Path(sys.argv[1]) if len(sys.argv) > 1 else VAR))
