"""Messages that went out but whose outcome the store does not hold yet, kept on notify's local disk.

Why: a delivery is recorded as sent in the store after the message went out. If notify dies, or stalls
past the lease, between the two, the retry job finds the delivery still "sending" and sends it again
(the fault test saw patients mailed twice that way). A line is appended here at the moment the message
is handed over, with nothing in between that waits: for mail, just before the end of its data is sent,
for SMS just before the request to the gateway; the server then holds the message unless it refuses it
(which raises, and the attempt withdraws the line). A restarted notify reads the journal first and
records those deliveries as sent before it attempts anything. Waiting for the server's acceptance
instead left a window as wide as the server's own commit and reply, in which a notify killed -9 had the
message sent again.

An attempt in flight owns its line: the retry job neither records it nor takes its delivery over until
the attempt has ended (its outcome recorded, or the store out of reach, when the line stays for the
job to record).

The directory (`DMP_NOTIFY_JOURNAL_DIR`) must outlive the process, not the machine: in Kubernetes an
emptyDir, which a container restart keeps and a lost node loses anyway. So a line is written to the
operating system (which keeps it when the process is killed) but not forced to the disk: an fsync would
stall the whole eventlet process under the store's disk load for no protection the emptyDir offers. A
line is forgotten once the store holds the outcome.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from services.notify.records import Sent
from services.notify.store import moment, ms

log = logging.getLogger(__name__)
_lock = threading.Lock()  # one notify per process; its workers share the file
_in_flight: set[str] = set()  # deliveries an attempt of this process is sending or recording


@contextmanager
def attempting(delivery_id: str) -> Iterator[None]:
    """Mark a delivery as this process's attempt in flight for the duration of the block."""
    with _lock:
        _in_flight.add(delivery_id)
    try:
        yield
    finally:
        with _lock:
            _in_flight.discard(delivery_id)


def in_flight(delivery_id: str) -> bool:
    with _lock:
        return delivery_id in _in_flight


class SentJournal:
    def __init__(self, directory: str | Path) -> None:
        self.path = Path(directory) / "sent.jsonl"

    def record(self, delivery_id: str, detail: str, at_ms: int) -> None:
        """Durably note that this delivery went out (before the store is told)."""
        line = json.dumps({"delivery_id": delivery_id, "detail": detail, "at_ms": at_ms}) + "\n"
        with _lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as journal:
                journal.write(
                    line
                )  # closed, hence handed to the operating system, before returning

    def went_out(self, sent: Sent) -> None:
        self.record(sent.delivery_id, sent.detail, ms(sent.at))

    def unrecorded(self) -> list[Sent]:
        """What went out and is not the business of an attempt in flight: its outcome is for the retry
        job to record."""
        return [
            Sent(entry["delivery_id"], entry["detail"], moment(entry["at_ms"]))
            for entry in self.entries()
            if not in_flight(entry["delivery_id"])
        ]

    def entries(self) -> list[dict[str, Any]]:
        """What went out and may not be in the store yet (a torn last line, from a death mid-append, is
        skipped: that message is the one the append did not cover)."""
        with _lock:
            if not self.path.exists():
                return []
            lines = self.path.read_text(encoding="utf-8").splitlines()
        found = []
        for line in lines:
            try:
                found.append(json.loads(line))
            except json.JSONDecodeError:
                log.warning("skipped a torn line in the sent-messages journal")
        return found

    def forget(self, delivery_ids: set[str]) -> None:
        """Drop the lines of deliveries whose outcome the store now holds (rewritten, then swapped in)."""
        with _lock:
            if not self.path.exists():
                return
            lines = self.path.read_text(encoding="utf-8").splitlines()
            kept = [
                line for line in lines if _delivery_of(line) not in {None, *delivery_ids}
            ]  # torn lines go
            replacement = self.path.with_suffix(".tmp")
            replacement.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")
            os.replace(replacement, self.path)


def _delivery_of(line: str) -> str | None:
    try:
        return str(json.loads(line)["delivery_id"])
    except (json.JSONDecodeError, KeyError, TypeError):
        return None
