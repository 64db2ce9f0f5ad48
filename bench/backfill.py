"""The reimbursement back-fill: when dossiers open, the Assurance Maladie sends 24 months of lines for each.

A batch of openings (patients registered and dossiers opened through the gateway), a JSON-lines file of 24
months of lines for each, imported with the operator command's own code (services.dossier.feed_import.run:
card login, batches over the feed RPC). Then the same file again: every line is a duplicate (idempotent).
"""

from __future__ import annotations

import json
import random
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.actors import bearer, make_ins, token
from bench.common import Measure, Section, log
from deploy.local.stack import Stack
from services.common.cards import Card
from services.common.settings import Settings
from services.common.signatures import PUBLIC_KEYS
from services.dossier import feed_import

TARGET = 10_000
MONTHS = 24


def open_dossier(http: httpx.Client, rng: random.Random) -> str:
    ins = make_ins(rng)
    http.post(
        "/api/v1/patients",
        json={
            "ins": ins,
            "given_name": "Bench",
            "family_name": "Feed",
            "sex": "M" if ins[0] == "1" else "F",
            "birth_date": f"19{ins[1:3]}-{ins[3:5]}-15",
            "email": f"{uuid.uuid4().hex[:10]}@bench.example.org",
        },
    ).raise_for_status()
    http.post(
        "/api/v1/dossiers",
        json={"ins": ins},
        headers=bearer(token(http, {"kind": "patient", "ins": ins})),
    ).raise_for_status()
    return ins


def lines_for(ins: str, per_month: int, today: date, rng: random.Random) -> list[dict[str, Any]]:
    lines = []
    for month in range(MONTHS):
        for k in range(per_month):
            care = today - timedelta(days=month * 30 + rng.randrange(1, 29))
            billed = rng.randrange(500, 20_000)
            lines.append(
                {
                    "line_id": f"AM-{ins}-{month:02d}-{k:03d}",
                    "ins": ins,
                    "care_date": care.isoformat(),
                    "items": [
                        {
                            "system": "CIP13",
                            "code": f"34009{rng.randrange(10**8):08d}",
                            "quantity": rng.randint(1, 3),
                        },
                        {"system": "CCAM", "code": "YYYY010"},
                    ],
                    "prescriber_rpps": "10000000009",
                    "billed_cents": billed,
                    "reimbursed_cents": billed * 7 // 10,
                }
            )
    return lines


def run(stack: Stack, floors: Section, var: Path, quick: bool) -> Section:
    from services.common.rpc_client import RpcClient

    openings, per_month = (10, 10) if quick else (100, 20)
    section = Section("backfill")
    rng = random.Random(24)
    http = httpx.Client(base_url=stack.gateway_url, timeout=60)
    log(f"back-fill: opening {openings} dossiers...")
    patients = [open_dossier(http, rng) for _ in range(openings)]
    today = datetime.now(UTC).date()
    path = var / "backfill.jsonl"
    with path.open("w") as out:
        for ins in patients:
            for line in lines_for(ins, per_month, today, rng):
                out.write(json.dumps(line) + "\n")
    total = openings * MONTHS * per_month
    card = Card()
    client_id = f"bench-feed-{uuid.uuid4().hex[:6]}"
    with RpcClient(uri=stack.operator_uri, timeout=60, keys=stack.bus_keys) as cluster:
        cluster.identity.register_system({"client_id": client_id, "public_key": card.public_pem})
    key = var / "feed.pem"
    card.save(key)
    # the feed import is an operator's command: the settings of one
    operator = Settings.load({"AMQP_URI": stack.operator_uri, PUBLIC_KEYS: stack.public_keys})
    for label in ("first import", "same file again (all duplicates)"):
        log(f"back-fill: {label}, {total:,} lines...")
        start = time.perf_counter()
        summary = feed_import.run(path, client_id, key, operator, out=open("/dev/null", "w"))  # noqa: SIM115
        seconds = time.perf_counter() - start
        expected = (total, 0) if label == "first import" else (0, total)
        if (summary["accepted"], summary["duplicates"]) != expected or summary["rejected"]:
            raise RuntimeError(
                f"back-fill {label}: unexpected summary {summary['accepted']} accepted, "
                f"{summary['duplicates']} duplicates, {len(summary['rejected'])} rejected"
            )
        section.add(
            Measure(f"back-fill, {label}: {openings} openings x {MONTHS} months", [seconds * 1000])
        )
        section.figures[f"lines per second, {label}"] = total / seconds
    store_floor = floors.figures["store insert_many documents per second"]
    section.figures["first import lines/s / store insert_many documents/s (floor)"] = (
        section.figures["lines per second, first import"] / store_floor
    )
    section.figures["lines"] = total
    section.figures[f"lines per opening ({MONTHS} months)"] = MONTHS * per_month
    section.target(
        "back-fill lines per second (first import)",
        section.figures["lines per second, first import"],
        TARGET,
        at_most=False,
        unit="/s",
    )
    return section
