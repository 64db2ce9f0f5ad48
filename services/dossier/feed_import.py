"""Operator command: import reimbursement lines from a CSV or JSON-lines file through the feed RPC.

    python -m services.dossier.feed_import lines.csv --client-id reimbursement-feed --key var/cards/feed.pem

The command logs in as the feed (its key signs identity's challenge, like any system client), sends
the lines in batches, shows a progress bar on a terminal, and ends with a summary: accepted,
duplicates, rejected with reasons. Importing the same file twice accepts nothing the second time.

CSV columns: line_id, ins, care_date (YYYY-MM-DD), items ("CCAM:ABC123" separated by "|", optional
"xN" quantity suffix), prescriber_rpps (may be empty), billed_cents, reimbursed_cents.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from services.common.cards import Card
from services.common.rpc_client import RpcClient
from services.common.settings import Settings

BATCH = 2000


def csv_line(row: dict[str, str]) -> dict[str, Any]:
    items = []
    for item in filter(None, (row.get("items") or "").split("|")):
        code, _, quantity = item.partition(
            "x"
        )  # codes are upper case: a lower-case x starts the quantity
        system, _, value = code.partition(":")
        items.append({"system": system, "code": value, "quantity": _number(quantity or "1")})
    line: dict[str, Any] = {
        "line_id": row.get("line_id"),
        "ins": row.get("ins"),
        "care_date": row.get("care_date"),
        "items": items,
        "billed_cents": _number(row.get("billed_cents")),
        "reimbursed_cents": _number(row.get("reimbursed_cents")),
    }
    if row.get("prescriber_rpps"):
        line["prescriber_rpps"] = row["prescriber_rpps"]
    return line


def _number(text: str | None) -> Any:
    try:
        return int(text or "")
    except ValueError:
        return text  # left for validation to refuse, with the field's name


def read_lines(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        if path.suffix == ".csv":
            yield from (csv_line(row) for row in csv.DictReader(handle))
            return
        for number, text in enumerate(handle, 1):
            if text.strip():
                try:
                    yield json.loads(text)
                except ValueError:
                    yield {"line_id": f"(line {number})", "ins": None}


def progress(done: int, total: int, out: TextIO) -> None:
    if not out.isatty():
        return
    width = 40
    filled = width * done // max(total, 1)
    out.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} lines")
    out.flush()


def login(cluster: Any, client_id: str, key: Path) -> str:
    actor_id = f"system:{client_id}"
    nonce = cluster.identity.request_card_challenge({"actor_id": actor_id}, "operator")["nonce"]
    answer = cluster.identity.login_with_card(
        {"actor_id": actor_id, "nonce": nonce, "signature": Card.load(key).sign(nonce)}, "operator"
    )
    return str(answer["access_token"])


def run(
    path: Path, client_id: str, key: Path, settings: Settings, out: TextIO = sys.stderr
) -> dict[str, Any]:
    lines = list(read_lines(path))
    summary: dict[str, Any] = {"lines": len(lines), "accepted": 0, "duplicates": 0, "rejected": []}
    with RpcClient(uri=settings.amqp_uri, timeout=300, keys=settings.bus_keys) as cluster:
        token = login(cluster, client_id, key)
        for start in range(0, len(lines), BATCH):
            if start and start % (BATCH * 50) == 0:
                token = login(cluster, client_id, key)  # access tokens last 15 minutes
            report = cluster.dossier.add_reimbursements(
                token, {"lines": lines[start : start + BATCH]}
            )
            summary["accepted"] += report["accepted"]
            summary["duplicates"] += report["duplicates"]
            summary["rejected"].extend(report["rejected"])
            progress(min(start + BATCH, len(lines)), len(lines), out)
    if out.isatty():
        out.write("\n")
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("file", type=Path, help=".csv or .jsonl")
    parser.add_argument("--client-id", default="reimbursement-feed")
    parser.add_argument("--key", type=Path, required=True, help="the feed's private key (PEM)")
    args = parser.parse_args()
    summary = run(args.file, args.client_id, args.key, Settings.load())
    reasons = Counter(item["reason"] for item in summary["rejected"])
    print(
        f"{summary['lines']} lines: {summary['accepted']} accepted, {summary['duplicates']} duplicates, "
        f"{len(summary['rejected'])} rejected"
    )
    for reason, count in reasons.most_common():
        print(f"  {count} rejected: {reason}")
    print(json.dumps(summary["rejected"][:20], ensure_ascii=False), file=sys.stderr)


if __name__ == "__main__":
    main()
