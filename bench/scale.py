"""Scale: the same deposit, read, search and history latency with a small and a large store: as many
dossiers, audit traces and notify deliveries each (bench/trails.py grows the last two).

A generator fills the dossier service's database with realistic dossiers and documents metadata, the
indexes created first exactly as the service creates them. Over the wire (insert_many, unordered), the
embedded server takes about 1,000 records a second: 1,000,000 dossiers took 40 minutes. So a large store
is made in two steps: a seed of SEED dossiers written over the wire (the exact bytes the server stores
for them), then, with the server stopped, the seed's rows copied inside SQLite in bulk, each copy with
the ids, INS and dates of its own (`replicate`; the server's indexes are SQLite expression indexes,
maintained by those inserts as by the server's own). Read and search then run through the whole system
on the server started again on those files. The large store is kept under var/bench/store-<n>/ with a
manifest (what it holds, how long the fill took); later runs reuse it.
"""

from __future__ import annotations

import json
import random
import sqlite3
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pymongo import MongoClient

from bench import trails
from bench.actors import deposit, make_pair
from bench.common import VAR, Measure, Section, devstore, log, running_stack, sequential
from deploy.local.stack import Stack
from services.common.settings import Settings
from services.dossier.store import DossierStore

GENERATOR = 3  # bump when the generated shape changes: cached stores are then made again
BATCH = 2000
SEED = (
    10_000  # dossiers written over the wire before a large store is grown by copies inside SQLite
)
COPY_BATCH = 50_000
TARGET_RATIO = 1.2
CATEGORIES = [
    ("10", "11488-4", "Compte rendu de consultation"),
    ("11", "18842-5", "Lettre de liaison de sortie"),
    ("20", "11502-2", "Compte rendu de biologie"),
    ("30", "18748-4", "Compte rendu d'imagerie"),
    ("40", "57833-6", "Prescription de médicaments"),
    ("50", "87273-9", "Note de vaccination"),
]


def synthetic_ins(i: int) -> str:
    # Starts with 3: never a valid INS (1 or 2), so never one the benchmark registers.
    return f"3{i:012d}00"


def dossier(i: int, now: datetime) -> dict[str, Any]:
    opened = now - timedelta(days=i % 2000)
    return {
        "_id": f"dos_gen{i:09d}",
        "ins": synthetic_ins(i),
        "patient_id": f"pat_gen{i:09d}",
        "status": "open",
        "opened_at": opened,
        "opened_by": {"kind": "patient", "id": f"pat_gen{i:09d}"},
        "channel": "patient",
        "consent_to_opening": {"given": True, "recorded_by": f"pat_gen{i:09d}", "at": opened},
        "wrapped_key": uuid.uuid4().hex * 2,
        "master_key": "gen",
        "_outbox": [],
        "_outbox_pending": False,
        "_version": 0,
    }


def document(i: int, dossier_index: int, now: datetime, rng: random.Random) -> dict[str, Any]:
    category, type_code, title = CATEGORIES[i % len(CATEGORIES)]
    created = now - timedelta(minutes=rng.randrange(2_000_000))
    return {
        "_id": f"doc_gen{i:010d}",
        "dossier_id": f"dos_gen{dossier_index:09d}",
        "category": category,
        "type_code": type_code,
        "title": title,
        "care_date": created.date().isoformat(),
        "format": "application/pdf",
        "visibility": [],
        "created_at": created,
        "created_ms": int(created.timestamp() * 1000),
        "size": rng.randrange(20_000, 2_000_000),
        "sha256": uuid.uuid4().hex * 2,
        "status": "current",
        "replaces": None,
        "replaced_by": None,
        "author": {"kind": "professional", "id": f"rpps:1{i % 90000:09d}", "profession": "10"},
        "patient_id": f"pat_gen{dossier_index:09d}",
        "_outbox": [],
        "_outbox_pending": False,
        "_version": 0,
    }


def fill(mongo_uri: str, dossiers: int, documents_per_dossier: int, already: int = 0) -> float:
    """Bulk-write dossiers `already` to `dossiers` and their documents; the seconds it took."""
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri, tz_aware=True)
    database = client[Settings.load().database_name("dossier")]
    DossierStore.prepare(database)
    rng = random.Random(dossiers)
    now = datetime.now(UTC)
    start = time.perf_counter()
    for first in range(already, dossiers, BATCH):
        last = min(first + BATCH, dossiers)
        database.dossiers.insert_many([dossier(i, now) for i in range(first, last)], ordered=False)
        database.documents.insert_many(
            [
                document(i * documents_per_dossier + k, i, now, rng)
                for i in range(first, last)
                for k in range(documents_per_dossier)
            ],
            ordered=False,
        )
        if last % 50_000 == 0:
            log(f"  filled {last:,} dossiers in {time.perf_counter() - start:.0f} s")
    elapsed = time.perf_counter() - start
    client.close()
    return elapsed


def replicate(database_file: Path, seed: int, dossiers: int, documents_per_dossier: int) -> float:
    """Grow a store of `seed` generated dossiers to `dossiers` by copying rows inside SQLite; the seconds it
    took. Copy i of seed row i % seed gets the ids and INS `dossier(i)` would give it, and dates moved back
    by i minutes, so that no two dossiers or documents share an id, an INS or a time. The server must be
    stopped (it keeps caches of its own)."""
    start = time.perf_counter()
    connection = sqlite3.connect(database_file)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(
        "PRAGMA synchronous=OFF"
    )  # a benchmark fixture: rebuilt if the machine dies mid-fill
    per = documents_per_dossier
    for first in range(seed, dossiers, COPY_BATCH):
        last = min(first + COPY_BATCH, dossiers)
        with connection:
            connection.execute(
                """WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)
                   INSERT INTO dossiers (_id, data)
                   SELECT printf('dos_gen%09d', n.i), json_set(d.data,
                          '$._id', printf('dos_gen%09d', n.i), '$.ins', printf('3%012d00', n.i),
                          '$.patient_id', printf('pat_gen%09d', n.i), '$.opened_by.id', printf('pat_gen%09d', n.i),
                          '$.consent_to_opening.recorded_by', printf('pat_gen%09d', n.i))
                   FROM n JOIN dossiers d ON d._id = printf('dos_gen%09d', n.i % ?)""",
                (first, last, seed),
            )
            connection.execute(
                """WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)
                   INSERT INTO documents (_id, data)
                   SELECT printf('doc_gen%010d', n.i), json_set(d.data,
                          '$._id', printf('doc_gen%010d', n.i), '$.dossier_id', printf('dos_gen%09d', n.i / ?),
                          '$.patient_id', printf('pat_gen%09d', n.i / ?),
                          '$.created_ms', json_extract(d.data, '$.created_ms') - n.i / ? * 60000,
                          '$.created_at."$date"', strftime('%Y-%m-%dT%H:%M:%f', (json_extract(d.data,
                              '$.created_ms') - n.i / ? * 60000) / 1000.0, 'unixepoch') || '000',
                          '$.sha256', lower(hex(randomblob(32))))
                   FROM n JOIN documents d ON d._id = printf('doc_gen%010d', n.i % ?)""",
                (first * per, last * per, per, per, per, per, seed * per),
            )
        log(f"  copied to {last:,} dossiers in {time.perf_counter() - start:.0f} s")
    connection.close()
    return time.perf_counter() - start


def prepared_store(
    dossiers: int, documents_per_dossier: int, cache: bool
) -> tuple[Path, dict[str, Any]]:
    """A data directory holding `dossiers` generated dossiers: reused when cached, else filled now."""
    directory = VAR / f"store-{dossiers}"
    manifest_path = directory / "manifest.json"
    wanted = {
        "generator": GENERATOR,
        "dossiers": dossiers,
        "documents_per_dossier": documents_per_dossier,
    }
    if cache and manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        if all(manifest.get(k) == v for k, v in wanted.items()):
            log(f"scale: reusing the generated store of {dossiers:,} dossiers in {directory}")
            return directory, {**manifest, "reused": True}
    if directory.exists():
        import shutil

        shutil.rmtree(directory)
    (directory / "mongo").mkdir(parents=True)
    log(
        f"scale: generating {dossiers:,} dossiers ({documents_per_dossier} documents each) in {directory}..."
    )
    seed = min(dossiers, SEED)
    with devstore(directory / "mongo", directory / "log") as mongo_uri:
        seconds = fill(mongo_uri, seed, documents_per_dossier)
        seconds += trails.fill_trails(mongo_uri, seed) + trails.fill_deliveries(mongo_uri, seed)
    if dossiers > seed:
        database_file = directory / "mongo" / f"{Settings.load().database_name('dossier')}.db"
        seconds += replicate(database_file, seed, dossiers, documents_per_dossier)
        seconds += trails.replicate(directory / "mongo", seed, dossiers)
    manifest = {
        **wanted,
        "fill_seconds": round(seconds, 1),
        "records_per_second": round(dossiers * (3 + documents_per_dossier) / seconds, 1),
        "seed_over_the_wire": seed,
        "generated_at": datetime.now(UTC).isoformat(),
    }
    if cache:
        manifest_path.write_text(json.dumps(manifest, indent=2))
    return directory, {**manifest, "reused": False}


def measure_at(
    dossiers: int, documents_per_dossier: int, rounds: int, cache: bool
) -> tuple[list[Measure], dict[str, Any]]:
    directory, manifest = prepared_store(dossiers, documents_per_dossier, cache)
    with devstore(directory / "mongo", directory / "log") as mongo_uri:
        # The service creates its indexes when it starts; on a cached store an index added since the fill is
        # built here first (once, then kept), so that the stack's start is not held up by it.
        start = time.perf_counter()
        client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri, tz_aware=True)
        DossierStore.prepare(client[Settings.load().database_name("dossier")])
        client.close()
        manifest["index_seconds"] = round(time.perf_counter() - start, 1)
        measures = _measure(mongo_uri, directory, dossiers, rounds)
    return measures, manifest


def _measure(mongo_uri: str, directory: Path, dossiers: int, rounds: int) -> list[Measure]:
    with running_stack(directory / f"stack-{uuid.uuid4().hex[:6]}", mongo_uri) as stack:
        return measure_on(stack, dossiers, rounds)


def measure_on(stack: Stack, dossiers: int, rounds: int) -> list[Measure]:
    """Deposit, read, search, history (through the gateway) and a store lookup, on a stack whose store holds
    `dossiers` dossiers, as many traces and as many deliveries."""
    label = f"{dossiers:,} of each"
    mongo_uri = stack.env["MONGO_URI"]
    http = httpx.Client(base_url=stack.gateway_url, timeout=120)
    pair = make_pair(http, random.Random())
    added = sequential(f"deposit at {label}", lambda: deposit(http, pair), rounds, warmup=5)
    ids = [deposit(http, pair) for _ in range(5)]
    rng = random.Random(1)
    read = sequential(
        f"read at {label}",
        lambda: http.get(
            f"/api/v1/patients/{pair.ins}/documents/{rng.choice(ids)}", headers=pair.doctor
        ).raise_for_status(),
        rounds,
        warmup=5,
    )
    search = sequential(
        f"search at {label}",
        lambda: http.get(
            f"/api/v1/patients/{pair.ins}/documents", params={"limit": 20}, headers=pair.doctor
        ).raise_for_status(),
        rounds,
        warmup=5,
    )
    history = sequential(
        f"history at {label}",
        lambda: http.get(
            f"/api/v1/patients/{pair.ins}/history", headers=pair.patient
        ).raise_for_status(),
        rounds,
        warmup=5,
    )
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri, tz_aware=True)
    database = client[Settings.load().database_name("dossier")]
    store = sequential(
        f"store: dossier by INS at {label}",
        lambda: database.dossiers.find_one({"ins": synthetic_ins(rng.randrange(dossiers))}),
        rounds,
        warmup=5,
    )
    client.close()
    return [added, read, search, history, store]


def grown_in_place(
    stack: Stack, small: int, large: int, per_dossier: int, rounds: int
) -> tuple[list[Measure], dict[str, Any], list[Measure], dict[str, Any]]:
    """The quick mode: the running stack's own store filled to `small`, measured, grown to `large`, measured
    again (no extra stack to start)."""
    mongo_uri = stack.env["MONGO_URI"]
    seconds = fill(mongo_uri, small, per_dossier) + trails.fill_trails(mongo_uri, small)
    seconds += trails.fill_deliveries(mongo_uri, small)
    at_small = measure_on(stack, small, rounds)
    more = fill(mongo_uri, large, per_dossier, already=small) + trails.fill_trails(
        mongo_uri, large, already=small
    )
    more += trails.fill_deliveries(mongo_uri, large, already=small)
    at_large = measure_on(stack, large, rounds)
    small_manifest = {"fill_seconds": round(seconds, 1)}
    large_manifest = {
        "fill_seconds": round(seconds + more, 1),
        "reused": False,
        "index_seconds": 0.0,
        "records_per_second": round(large * (3 + per_dossier) / (seconds + more), 1),
    }
    return at_small, small_manifest, at_large, large_manifest


def run(quick: bool, large_store: int = 1_000_000, stack: Stack | None = None) -> Section:
    """Full mode: two stacks on two stores (the large one cached). Quick mode with `stack`: on that stack,
    its store grown from the small to the large size."""
    small, large = (500, 5_000) if quick else (10_000, large_store)
    per_dossier = 1
    rounds = 20 if quick else 100
    section = Section("scale")
    if quick and stack is not None:
        at_small, small_manifest, at_large, large_manifest = grown_in_place(
            stack, small, large, per_dossier, rounds
        )
    else:
        at_small, small_manifest = measure_at(small, per_dossier, rounds, cache=False)
        at_large, large_manifest = measure_at(large, per_dossier, rounds, cache=not quick)
    for measure in [*at_small, *at_large]:
        section.add(measure)
    section.figures["dossiers, traces and deliveries each (small store)"] = small
    section.figures["dossiers, traces and deliveries each (large store)"] = large
    section.figures["large store fill seconds"] = large_manifest["fill_seconds"]
    section.figures["large store fill records/s"] = large_manifest["records_per_second"]
    section.figures["large store reused from cache (1 = yes)"] = (
        1.0 if large_manifest["reused"] else 0.0
    )
    section.figures["large store index preparation seconds (cache of this run)"] = large_manifest[
        "index_seconds"
    ]
    kinds = ("deposit", "read", "search", "history", "store dossier by INS")
    for kind, a, b in zip(kinds, at_small, at_large, strict=True):
        section.figures[f"{kind} p50 large / small"] = b.p50 / a.p50
    for kind, a, b in list(zip(kinds, at_small, at_large, strict=True))[:4]:
        section.target(
            f"{kind} p50 at {large:,} / at {small:,}",
            b.p50 / a.p50,
            TARGET_RATIO,
            at_most=True,
            unit="x",
        )
    section.notes.append(
        f"small store filled in {small_manifest['fill_seconds']} s; documents per dossier: "
        f"{per_dossier}; identity's patients are not generated (their lookup is the same "
        "indexed find by INS as the dossier's)"
    )
    return section
