"""`python -m bench [--quick] [--json-dir DIR] [--only floors,rpc_hop,...]`: every benchmark, one table each.

Starts the whole system on a private virtual host (and, for the scale benchmark, on generated stores),
measures the floors first and every other figure against them, prints each section's table and writes
one JSON file per section (and summary.json) under --json-dir (var/bench by default). Asserts nothing
about time: the targets are reported, met or not.

--quick is what CI runs (about a minute and a half): fewer rounds, a small scale step (500 and 5,000
dossiers, generated on the spot), a small back-fill. Without it, about 6 minutes on 2 cores, the first
generation of the 1,000,000-dossier store included (about 70 s; later runs reuse it).
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from tempfile import mkdtemp
from typing import Any

from bench import backfill, end_to_end, floors, rpc_hop, scale
from bench.common import VAR, Section, log, machine, running_stack

SECTIONS = ("floors", "rpc_hop", "end_to_end", "backfill", "scale")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="the short run CI makes (about 90 s)")
    parser.add_argument(
        "--json-dir", type=Path, default=VAR, help="where the JSON results go (default var/bench)"
    )
    parser.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"comma-separated sections among {', '.join(SECTIONS)} (floors always run)",
    )
    parser.add_argument(
        "--large-store",
        type=int,
        default=1_000_000,
        help="dossiers in the scale benchmark's large store (generated once, then cached)",
    )
    args = parser.parse_args(argv)
    wanted = {name.strip() for name in args.only.split(",") if name.strip()}
    unknown = wanted - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    context = {"machine": machine(), "quick": args.quick}
    started = time.perf_counter()
    results: list[tuple[str, Section]] = []
    VAR.mkdir(parents=True, exist_ok=True)
    var = Path(mkdtemp(prefix="run-", dir=VAR))
    try:
        with running_stack(var) as stack:
            amqp_uri, mongo_uri = stack.env["AMQP_URI"], stack.env["MONGO_URI"]
            log("floors...")
            base = floors.run(amqp_uri, mongo_uri, args.quick)
            results.append(("floors", base))
            if "rpc_hop" in wanted:
                log("one RPC hop...")
                results.append(
                    ("rpc_hop", rpc_hop.run(amqp_uri, stack.operator_uri, base, var, args.quick))
                )
            if "end_to_end" in wanted:
                log("end to end...")
                results.append(("end_to_end", end_to_end.run(stack, base, args.quick)))
            if "backfill" in wanted:
                results.append(("backfill", backfill.run(stack, base, var, args.quick)))
            if "scale" in wanted and args.quick:
                log("scale (on this stack's store, grown)...")
                results.append(("scale", scale.run(True, stack=stack)))
        if "scale" in wanted and not args.quick:
            results.append(("scale", scale.run(args.quick, args.large_store)))
    finally:
        shutil.rmtree(var, ignore_errors=True)
    elapsed = time.perf_counter() - started
    context["machine"]["load_1_5_15_at_end"] = machine()["load_1_5_15"]
    summary: dict[str, Any] = {**context, "seconds": round(elapsed, 1), "sections": {}}
    for key, section in results:
        section.print()
        section.write(args.json_dir, key, context)
        summary["sections"][key] = section.as_json()
    (args.json_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    m = context["machine"]
    print(
        f"\n{m['date']} on {m['host']} ({m['cpus']} CPUs), load {m['load_1_5_15']} at start, "
        f"{m['load_1_5_15_at_end']} at end; {elapsed:.0f} s; JSON in {args.json_dir}"
    )


if __name__ == "__main__":
    main()
