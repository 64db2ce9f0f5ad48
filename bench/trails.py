"""Scale: audit's traces and notify's deliveries, grown like the dossiers (issue 19: the scale benchmark grew
dossiers only, so two queries that scanned traces and deliveries never showed).

The seed is written over the wire in the exact shape the services write: traces made by audit's own
`trace_of` and hash-linked in chains of CHAIN traces, one chain per generated patient (the dossiers'
`pat_gen...`), each chain with its head; deliveries as notify writes them, nearly all sent long ago, some
failed, none due. A large store is then grown inside SQLite as `scale.replicate` grows the dossiers: copy i
of seed row i % seed gets the ids and patient of its own. Copied chains keep the seed's hashes, which
link another chain's ids: `audit.verify` would call them broken. The benchmark measures requests of its own
patients, whose chains are whole; the copies are there to be (not) scanned.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pymongo import MongoClient

from bench.common import log
from services.audit import chain
from services.audit.records import trace_of
from services.audit.store import AuditStore, trace_document
from services.common.actors import ActorKind
from services.common.events import ActorRef, Event, EventType
from services.common.settings import Settings
from services.notify.store import NotifyStore

CHAIN = 20  # traces per generated patient (a dossier's first months)
BATCH = 2000
COPY_BATCH = 50_000
TYPES = (
    EventType.DOSSIER_OPENED,
    EventType.CONSENT_RECORDED,
    EventType.DOCUMENT_ADDED,
    EventType.DOCUMENT_READ,
    EventType.DOCUMENTS_LISTED,
)


def patient(i: int) -> str:
    return f"pat_gen{i:09d}"  # the generated dossiers' patients (bench/scale.py)


def event(i: int, now: datetime) -> Event:
    kind = TYPES[0] if i % CHAIN == 0 else TYPES[1 + i % (len(TYPES) - 1)]
    doctor = ActorRef(id=f"rpps:1{i % 9_000_000:010d}", kind=ActorKind.PROFESSIONAL.value)
    return Event(
        event_id=f"evt_gen{i:010d}",
        type=kind,
        source="dossier",
        actor=doctor,
        occurred_at=now - timedelta(minutes=i),
        patient_id=patient(i // CHAIN),
        document_id=f"doc_gen{i:010d}" if kind is EventType.DOCUMENT_ADDED else None,
    )


def fill_trails(mongo_uri: str, traces: int, already: int = 0) -> float:
    """Write traces `already` to `traces` (whole chains) and their chains' heads; the seconds it took."""
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri, tz_aware=True)
    database = client[Settings.load().database_name("audit")]
    AuditStore.prepare(database)
    assert already % CHAIN == 0 and BATCH % CHAIN == 0, "whole chains only"
    now = datetime.now(UTC)
    start = time.perf_counter()
    for first in range(already, traces, BATCH):
        batch: list[dict[str, Any]] = []
        heads: list[dict[str, Any]] = []
        for i in range(first, min(first + BATCH, traces)):
            trace = {
                **trace_document(trace_of(event(i, now))),
                "chain": patient(i // CHAIN),
                "seq": i % CHAIN + 1,
                "prev_hash": batch[-1]["hash"] if i % CHAIN else chain.GENESIS,
                "recorded_at": now,
            }
            trace["hash"] = chain.link(trace)
            batch.append(trace)
            if i % CHAIN == CHAIN - 1:
                heads.append({"_id": trace["chain"], "seq": trace["seq"], "hash": trace["hash"]})
        database.traces.insert_many(batch, ordered=False)
        if heads:
            database.chain_heads.insert_many(heads, ordered=False)
    client.close()
    return time.perf_counter() - start


def fill_deliveries(mongo_uri: str, deliveries: int, already: int = 0) -> float:
    """Write deliveries `already` to `deliveries`: done long ago (one in fifty failed); the seconds it took."""
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri, tz_aware=True)
    database = client[Settings.load().database_name("notify")]
    NotifyStore.prepare(database)
    now = datetime.now(UTC)
    start = time.perf_counter()
    for first in range(already, deliveries, BATCH):
        batch = []
        for i in range(first, min(first + BATCH, deliveries)):
            happened = event(i, now)
            at_ms = int(happened.occurred_at.timestamp() * 1000)
            batch.append(
                {
                    "_id": f"{happened.event_id}:patient:email",
                    "event_id": happened.event_id,
                    "whom": "patient",
                    "patient_id": happened.patient_id,
                    "professional_id": happened.actor.id if happened.actor else None,
                    "channel": "email",
                    "events": [happened.model_dump(mode="json")],
                    "next_ms": at_ms,
                    "status": "failed" if i % 50 == 0 else "sent",
                    "attempts": 1,
                    "claimed_ms": at_ms,
                    "outcome": {"at": happened.occurred_at, "detail": "250 OK"},
                }
            )
        database.deliveries.insert_many(batch, ordered=False)
    client.close()
    return time.perf_counter() - start


def replicate(mongo_directory: Path, seed: int, count: int) -> float:
    """Grow the audit and notify stores of `seed` generated traces and deliveries to `count` each, inside
    SQLite (the server stopped); the seconds it took. `seed` is a multiple of CHAIN, so that copy i keeps
    the seq of seed row i % seed and lands at its own place in its own chain."""
    assert seed % CHAIN == 0, "whole chains only"
    start = time.perf_counter()
    settings = Settings.load()
    copies = {
        "audit": [
            """WITH RECURSIVE n(i) AS (SELECT :first UNION ALL SELECT i + 1 FROM n WHERE i + 1 < :last)
               INSERT INTO traces (_id, data) SELECT printf('evt_gen%010d', n.i), json_set(t.data,
                   '$._id', printf('evt_gen%010d', n.i), '$.chain', printf('pat_gen%09d', n.i / :chain),
                   '$.patient_id', printf('pat_gen%09d', n.i / :chain))
               FROM n JOIN traces t ON t._id = printf('evt_gen%010d', n.i % :seed)""",
            """WITH RECURSIVE n(i) AS (SELECT :first UNION ALL SELECT i + 1 FROM n WHERE i + 1 < :last)
               INSERT INTO chain_heads (_id, data) SELECT printf('pat_gen%09d', n.i / :chain), json_set(h.data,
                   '$._id', printf('pat_gen%09d', n.i / :chain))
               FROM n JOIN chain_heads h ON h._id = printf('pat_gen%09d', (n.i % :seed) / :chain)
               WHERE n.i % :chain = 0""",
        ],
        "notify": [
            """WITH RECURSIVE n(i) AS (SELECT :first UNION ALL SELECT i + 1 FROM n WHERE i + 1 < :last)
               INSERT INTO deliveries (_id, data) SELECT printf('evt_gen%010d:patient:email', n.i), json_set(d.data,
                   '$._id', printf('evt_gen%010d:patient:email', n.i), '$.event_id', printf('evt_gen%010d', n.i),
                   '$.patient_id', printf('pat_gen%09d', n.i / :chain))
               FROM n JOIN deliveries d ON d._id = printf('evt_gen%010d:patient:email', n.i % :seed)""",
        ],
    }
    for service, statements in copies.items():
        connection = sqlite3.connect(mongo_directory / f"{settings.database_name(service)}.db")
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(
            "PRAGMA synchronous=OFF"
        )  # a benchmark fixture: rebuilt if the machine dies mid-fill
        for first in range(seed, count, COPY_BATCH):
            last = min(first + COPY_BATCH, count)
            with connection:
                for statement in statements:
                    connection.execute(
                        statement, {"first": first, "last": last, "seed": seed, "chain": CHAIN}
                    )
            log(f"  {service}: copied to {last:,} in {time.perf_counter() - start:.0f} s")
        connection.close()
    return time.perf_counter() - start
