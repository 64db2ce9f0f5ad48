"""Issue 19: no query the services make at run time scans a whole collection.

Every command the five services send to the store during a journey (deposits, reads, searches, masking,
replacement, history, logins, notifications, the periodic jobs that run meanwhile) is captured by a
pymongo command listener; each filter is then explained on the embedded store, and a plan that scans the
collection fails the test, naming the collection and the query's shape.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pymongo import MongoClient, monitoring

from services.common.cards import Card
from services.common.clock import utcnow
from tests.conftest import People
from tests.dossier.test_feed import line
from tests.journeys import eventually, submission
from tests.store_commands import listening

# Commands whose filter selects documents, and where that filter is.
Selections = Callable[[Any], list[tuple[dict[str, Any], Any]]]
FILTERS: dict[str, Selections] = {
    "find": lambda c: [(c.get("filter") or {}, c.get("sort"))],
    "count": lambda c: [(c.get("query") or {}, None)],
    "findAndModify": lambda c: [(c.get("query") or {}, c.get("sort"))],
    "update": lambda c: [(u.get("q") or {}, None) for u in c.get("updates", [])],
    "delete": lambda c: [(d.get("q") or {}, None) for d in c.get("deletes", [])],
    "aggregate": lambda c: [
        (s["$match"], None) for s in c.get("pipeline", [])[:1] if "$match" in s
    ],
}


class Commands(monitoring.CommandListener):
    """(database, collection, filter, sort) of every selecting command, once per shape."""

    def __init__(self) -> None:
        self.seen: dict[str, tuple[str, str, dict[str, Any], Any]] = {}
        self.lock = threading.Lock()

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        extract = FILTERS.get(event.command_name)
        if extract is None:
            return
        collection = str(event.command[event.command_name])
        for selection, sort in extract(event.command):
            key = f"{event.database_name.split('_', 1)[-1]}.{collection} {shape(selection)} {shape(sort)}"
            with self.lock:
                self.seen.setdefault(key, (event.database_name, collection, selection, sort))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def shape(value: Any) -> Any:
    """A query with its values replaced by their types: one entry per query the code can make."""
    if isinstance(value, dict):
        return {key: shape(inner) for key, inner in sorted(value.items())}
    if isinstance(value, list):
        return [shape(inner) for inner in value[:1]]
    return type(value).__name__


@pytest.fixture
def commands() -> Iterator[Commands]:
    listener = Commands()
    with listening(listener):
        yield listener


def scanned(plan: dict[str, Any], collection: str) -> bool:
    """SQLite's plan (nx-27017) says SCAN <table> for a full scan; MongoDB's says COLLSCAN."""
    winning = plan["queryPlanner"]["winningPlan"]
    steps = winning if isinstance(winning, list) else [winning]
    details = [
        str(step.get("detail", step)) if isinstance(step, dict) else str(step) for step in steps
    ]
    return any(
        detail.startswith(f"SCAN {collection}") or "COLLSCAN" in detail for detail in details
    )


def test_no_query_of_a_journey_scans_a_whole_collection(
    commands: Commands,
    cluster: Any,
    people: People,
    environment: dict[str, str],
) -> None:
    ins, patient = people.patient(email="plans@patients.dmp-test.fr")
    cluster.dossier.open(patient, {"ins": ins})
    _, doctor = people.professional()
    cluster.consent.record_consent(doctor, ins)
    documents = [
        cluster.dossier.add_document(doctor, ins, submission(f"%PDF-1.4 plan {n}".encode()))[
            "document_id"
        ]
        for n in range(3)
    ]
    cluster.dossier.read_document(doctor, ins, documents[0])
    kept = cluster.dossier.add_submission_set(  # ITI-65's submission set, found again by ITI-66
        doctor, ins, {"unique_id": "urn:oid:1.2.250.1.999.19.1"}, [submission(b"%PDF-1.4 plan set")]
    )
    cluster.dossier.search_submission_sets(doctor, ins, {"limit": 2})
    cluster.dossier.find_submission_set(doctor, kept["submission_set_id"])
    cluster.dossier.search(doctor, ins, {"limit": 2})
    # FHIR's coded parameters (setting, facility, event, format, related): the same one indexed fetch.
    coded = {
        "practice_setting": ["http://snomed.info/sct|394802001"],
        "facility_type": ["http://snomed.info/sct|22232009,394747008"],
        "event": ["http://snomed.info/sct|38341003", "73211009"],
        "format_code": ["urn:ihe:iti:xds:2017:mimeTypeSufficient"],
        "related": ["urn:oid:1.2.250.1.999.3|ACC-1"],
        "status": ["current", "archived"],
    }
    cluster.dossier.search(doctor, ins, coded)
    # A change conditioned on the version read (FHIR If-Match): compared in the write's own filter.
    cluster.dossier.archive_document(doctor, ins, documents[0], True, 1)
    cluster.dossier.set_visibility(patient, ins, documents[1], {"masked": True})
    cluster.dossier.replace_document(doctor, ins, documents[2], submission(b"%PDF-1.4 plan v2"))
    cluster.dossier.personal_space(patient, ins)
    cluster.identity.request_login_code({"ins": ins, "channel": "email"}, "127.0.0.1")
    cluster.notify.preferences(patient, ins)
    eventually(lambda: len(cluster.audit.history(patient, ins, {"limit": 50})["traces"]) >= 8)
    cluster.audit.history(patient, ins, {"date_from": utcnow().date().isoformat(), "limit": 5})
    cluster.notify.retry_due()
    cluster.dossier.release_due()
    cluster.dossier.discard_abandoned_deposits()
    card = Card()  # the reimbursement feed: its batch finds each line's dossier by INS
    cluster.identity.register_system(
        {"client_id": "reimbursement-feed", "public_key": card.public_pem}
    )
    nonce = cluster.identity.request_card_challenge({"actor_id": "system:reimbursement-feed"}, "t")[
        "nonce"
    ]
    feed = cluster.identity.login_with_card(
        {"actor_id": "system:reimbursement-feed", "nonce": nonce, "signature": card.sign(nonce)},
        "t",
    )["access_token"]
    cluster.dossier.add_reimbursements(
        feed, {"lines": [line("P1", ins), line("P2", people.patient()[0])]}
    )
    cluster.dossier.reimbursements(patient, ins)
    cluster.dossier.care_summary(
        doctor, ins
    )  # the feed's last 24 months, the documents, the personal space
    # what audit asks dossier before purging a chain, and while verifying the trail
    cluster.dossier.purge_record(f"dos_{ins}")
    cluster.dossier.dossiers_of([f"pat_{n}" for n in range(3)])

    client: MongoClient[dict[str, Any]] = MongoClient(environment["MONGO_URI"])
    try:
        scans = []
        for key, (database, collection, selection, sort) in sorted(commands.seen.items()):
            if collection.endswith((".files", ".chunks")):
                # GridFS: the embedded store keeps it in tables of its own, indexed by file id and chunk
                # number, and answers every explain of them with a fixed "COLLSCAN" that says nothing.
                continue
            cursor = client[database][collection].find(selection)
            if sort:
                cursor = cursor.sort(list(sort.items()))
            if scanned(cursor.explain(), collection):
                scans.append(key)
    finally:
        client.close()
    assert len(commands.seen) > 20  # the journey really went through every service
    assert scans == [], "\n".join(scans)
