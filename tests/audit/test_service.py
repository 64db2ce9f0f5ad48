"""audit: every step leaves one trace, whatever the broker redelivers."""

import json
from typing import Any

import pytest
from nameko import config

from services.common.errors import AccessDenied
from services.common.events import Event
from tests.conftest import People
from tests.journeys import Deposit, event_dispatcher, eventually
from tests.queues import connect, drain


def history_types(cluster: Any, deposit: Deposit) -> list[str]:
    return [t["type"] for t in cluster.audit.history(deposit.patient, deposit.ins)["traces"]]


def test_every_step_of_the_journey_is_traced(
    cluster: Any, deposit: Deposit, people: People
) -> None:
    cluster.dossier.read_document(deposit.doctor, deposit.ins, deposit.document_id)
    _, stranger = people.professional()
    with pytest.raises(AccessDenied):
        cluster.dossier.search(stranger, deposit.ins)

    expected = {
        "dossier_opened",
        "consent_recorded",
        "document_added",
        "document_read",
        "access_denied",
    }
    eventually(lambda: expected <= set(history_types(cluster, deposit)))
    traces = cluster.audit.history(deposit.patient, deposit.ins)["traces"]
    denied = next(t for t in traces if t["type"] == "access_denied")
    assert denied["outcome"] == "denied" and denied["rule"] == "R-NO-CONSENT"
    read = next(t for t in traces if t["type"] == "document_read")
    assert (
        read["actor"]["id"] == f"rpps:{deposit.doctor_rpps}"
        and read["document_id"] == deposit.document_id
    )


def test_redelivered_event_makes_no_second_trace(cluster: Any, deposit: Deposit) -> None:
    eventually(lambda: "document_added" in history_types(cluster, deposit))
    traces = cluster.audit.history(deposit.patient, deposit.ins)["traces"]
    added = next(t for t in traces if t["type"] == "document_added")
    # Replay the same event (same id) as the broker would after a lost acknowledgement.
    event = Event(
        event_id=added["event_id"],
        type="document_added",
        source="dossier",
        occurred_at=added["occurred_at"],
        document_id=deposit.document_id,
    )
    payload = event.model_dump(mode="json")
    dispatch = event_dispatcher(uri=config["AMQP_URI"])
    dispatch("dossier", "document_added", payload)
    dispatch("dossier", "document_added", payload)
    cluster.dossier.search(
        deposit.patient, deposit.ins
    )  # a later event, to know the replays were consumed
    eventually(lambda: "documents_listed" in history_types(cluster, deposit))
    assert history_types(cluster, deposit).count("document_added") == 1


def test_a_professional_outside_the_dossier_sees_only_traces_of_their_documents(
    cluster: Any, deposit: Deposit, people: People
) -> None:
    eventually(lambda: "document_added" in history_types(cluster, deposit))
    by_author = cluster.audit.history(deposit.doctor, deposit.ins)
    assert by_author["audience"] == "document_author"
    assert {t["document_id"] for t in by_author["traces"]} == {deposit.document_id}
    _, stranger = people.professional()
    assert cluster.audit.history(stranger, deposit.ins)["traces"] == []


def test_a_malformed_event_is_dead_lettered_not_requeued_forever(
    cluster: Any, deposit: Deposit
) -> None:
    dispatch = event_dispatcher(uri=config["AMQP_URI"])
    dispatch(
        "dossier",
        "document_added",
        {"event_id": "evt_broken", "type": "document_added", "source": "dossier"},
    )
    with connect() as connection:
        letters = eventually(lambda: drain(connection, "audit.dead-letter"))
    assert json.loads(letters[0].body)["event_id"] == "evt_broken"
    assert "occurred_at: Field required" in letters[0].headers["x-reason"]
    assert letters[0].headers["x-original-queue"] == "audit.from-dossier"
    cluster.dossier.search(deposit.patient, deposit.ins)  # the queue keeps flowing
    eventually(lambda: "documents_listed" in history_types(cluster, deposit))
