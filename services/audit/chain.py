"""The trail's hash chain, as pure functions: every trace holds the hash of the one before it.

One chain per patient (the dossier's owner; events about no patient go to the "system" chain). A trace
is hashed over a canonical form of what it says, so editing any field, deleting a trace or inserting
one breaks the chain at that point; signed checkpoints of the chain heads catch a rewrite of a whole
chain (recomputed hashes) after the checkpoint.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

GENESIS = "0" * 64
SYSTEM_CHAIN = "system"
EVENT_FIELDS = (
    "type",
    "source",
    "occurred_at",
    "actor",
    "patient_id",
    "dossier_id",
    "document_id",
    "outcome",
    "rule",
    "emergency",
    "data",
)


def chain_of(event: dict[str, Any]) -> str:
    return str(event.get("patient_id") or SYSTEM_CHAIN)


def canonical(trace: dict[str, Any]) -> bytes:
    """What the hash covers, over a trace as stored (services/audit/store.py writes it): dates as epoch ms,
    booleans as booleans, since the store may answer 0/1. Over the stored form, not a record: every chain
    written so far is hashed so, and whoever holds the trail's documents recomputes it as audit does."""
    occurred: datetime = trace["occurred_at"]
    body = {field: trace.get(field) for field in EVENT_FIELDS}
    body["occurred_at"] = int(occurred.timestamp() * 1000)
    body["emergency"] = bool(trace.get("emergency"))
    body.update(
        event_id=trace["_id"], chain=trace["chain"], seq=int(trace["seq"]), prev=trace["prev_hash"]
    )
    return json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode()


def link(trace: dict[str, Any]) -> str:
    return hashlib.sha256(trace["prev_hash"].encode() + canonical(trace)).hexdigest()


@dataclass(frozen=True)
class Break:
    chain: str
    seq: int
    problem: str  # "altered", "missing", "out of order"

    def as_dict(self) -> dict[str, Any]:
        return {"chain": self.chain, "seq": self.seq, "problem": self.problem}


def first_break(chain: str, traces: Iterable[dict[str, Any]]) -> tuple[Break | None, int, str]:
    """Walk a chain in sequence order: (the first broken or missing link or None, last seq, last hash)."""
    expected_seq, previous = 1, GENESIS
    for trace in traces:
        seq = int(trace["seq"])
        if seq != expected_seq:
            return Break(chain, expected_seq, "missing"), expected_seq - 1, previous
        if trace["prev_hash"] != previous:
            return Break(chain, seq, "out of order"), seq - 1, previous
        if link(trace) != trace["hash"]:
            return Break(chain, seq, "altered"), seq - 1, previous
        previous, expected_seq = trace["hash"], seq + 1
    return None, expected_seq - 1, previous
