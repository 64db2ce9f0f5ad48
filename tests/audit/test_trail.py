"""The audit trail: hash chains nobody can rewrite unnoticed, signed checkpoints, history for the
three audiences, FHIR AuditEvent export, retention with the dossier."""

import time
from datetime import timedelta
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from nameko import config

from services.audit.chain import link
from services.common.clock import utcnow
from services.common.events import Event
from tests.conftest import FakeClock, People, service_database
from tests.journeys import (
    Deposit,
    become_medecin_traitant,
    event_dispatcher,
    eventually,
    submission,
)


def traced(cluster: Any, deposit: Deposit, count: int) -> list[dict[str, Any]]:
    """The patient's history once it holds at least `count` traces."""

    def enough() -> list[dict[str, Any]]:
        history = cluster.audit.history(deposit.patient, deposit.ins, {"limit": 200})
        return list(history["traces"]) if history["total"] >= count else []

    return eventually(enough)


def settled(cluster: Any, deposit: Deposit, count: int) -> None:
    """Once the history holds `count` traces, wait until no more arrive (a forger who rewrites the chain
    while the events of the set-up are still being appended would meet a broken link, not a checkpoint)."""
    seen = len(traced(cluster, deposit, count))
    while True:
        time.sleep(0.5)
        now = cluster.audit.history(deposit.patient, deposit.ins, {"limit": 1})["total"]
        if now == seen:
            return
        seen = now


def test_the_journey_leaves_an_intact_chain(
    cluster: Any, deposit: Deposit, environment: dict[str, str]
) -> None:
    cluster.dossier.read_document(deposit.doctor, deposit.ins, deposit.document_id)
    traced(cluster, deposit, 4)
    report = cluster.audit.verify()
    assert report["intact"] and report["traces"] >= 4
    traces = service_database(environment, "audit").traces
    chain = [
        t["seq"] for t in traces.find({"patient_id": {"$ne": None}, "chain": {"$ne": "system"}})
    ]
    assert sorted(chain)[:4] == [1, 2, 3, 4]


def test_an_edited_trace_is_reported(
    cluster: Any, deposit: Deposit, environment: dict[str, str]
) -> None:
    traced(cluster, deposit, 3)
    traces = service_database(environment, "audit").traces
    victim = traces.find_one({"type": "document_added"})
    assert victim is not None
    traces.replace_one({"_id": victim["_id"]}, {**victim, "outcome": "denied"})
    report = cluster.audit.verify()
    assert not report["intact"]
    assert {"chain": victim["chain"], "seq": victim["seq"], "problem": "altered"} in report[
        "breaks"
    ]


def test_a_deleted_trace_is_reported_as_a_missing_link(
    cluster: Any, deposit: Deposit, environment: dict[str, str]
) -> None:
    traced(cluster, deposit, 3)
    traces = service_database(environment, "audit").traces
    victim = traces.find_one({"type": "consent_recorded"})
    assert victim is not None
    traces.delete_one({"_id": victim["_id"]})
    assert {
        "chain": victim["chain"],
        "seq": victim["seq"],
        "problem": "missing",
    } in cluster.audit.verify()["breaks"]


def test_rewriting_a_whole_chain_is_caught_by_a_signed_checkpoint(
    cluster: Any, deposit: Deposit, environment: dict[str, str]
) -> None:
    settled(cluster, deposit, 3)
    cluster.audit.checkpoint()
    traces = service_database(environment, "audit").traces
    name = traces.find_one({"type": "document_added"})["chain"]  # type: ignore[index]
    previous = "0" * 64
    for trace in list(
        traces.find({"chain": name}).sort([("seq", 1)])
    ):  # a careful forger recomputes every hash
        forged = {
            **trace,
            "prev_hash": previous,
            "outcome": "denied" if trace["type"] == "document_added" else trace["outcome"],
        }
        forged["hash"] = link(forged)
        traces.replace_one({"_id": trace["_id"]}, forged)
        previous = forged["hash"]
    service_database(environment, "audit").chain_heads.update_one(
        {"_id": name}, {"$set": {"hash": previous}}
    )
    report = cluster.audit.verify()
    assert report["breaks"] == [] and not report["intact"]
    assert any(m.get("chain") == name for m in report["checkpoint_mismatches"])


def test_concurrent_events_keep_the_chain_whole(cluster: Any, deposit: Deposit) -> None:
    for n in range(20):
        cluster.dossier.add_document(
            deposit.doctor, deposit.ins, submission(f"%PDF-1.4 {n}".encode())
        )
    traced(cluster, deposit, 23)
    assert cluster.audit.verify()["intact"]


def test_history_filters_pages_and_labels(cluster: Any, deposit: Deposit, people: People) -> None:
    cluster.dossier.read_document(deposit.doctor, deposit.ins, deposit.document_id)
    traced(cluster, deposit, 5)
    reads = cluster.audit.history(deposit.patient, deposit.ins, {"action": "document_read"})
    assert reads["total"] == 1 and reads["traces"][0]["label"] == "Consultation d'un document"
    english = cluster.audit.history(
        deposit.patient, deposit.ins, {"action": "document_read", "language": "en"}
    )
    assert english["traces"][0]["label"] == "Document read"
    mine = cluster.audit.history(
        deposit.patient, deposit.ins, {"professional_id": f"rpps:{deposit.doctor_rpps}"}
    )
    assert mine["total"] >= 3 and {t["actor"]["id"] for t in mine["traces"]} == {
        f"rpps:{deposit.doctor_rpps}"
    }
    assert (
        cluster.audit.history(deposit.patient, deposit.ins, {"date_to": "2000-01-01"})["total"] == 0
    )
    first = cluster.audit.history(deposit.patient, deposit.ins, {"limit": 2})
    second = cluster.audit.history(
        deposit.patient, deposit.ins, {"limit": 2, "cursor": first["next_cursor"]}
    )
    assert not {t["event_id"] for t in first["traces"]} & {t["event_id"] for t in second["traces"]}


def test_the_three_audiences(cluster: Any, deposit: Deposit, people: People) -> None:
    _, colleague = people.professional()
    cluster.consent.record_consent(colleague, deposit.ins)
    other = cluster.dossier.add_document(colleague, deposit.ins, submission(b"%PDF-1.4 autre"))
    traced(cluster, deposit, 5)
    everything = cluster.audit.history(deposit.patient, deposit.ins, {"limit": 200})["total"]
    rpps_mt, mt = people.professional()
    become_medecin_traitant(cluster, deposit.ins, deposit.patient, mt, rpps_mt)
    assert eventually(
        lambda: cluster.audit.history(mt, deposit.ins, {"limit": 200})["total"] >= everything
    )
    author = cluster.audit.history(deposit.doctor, deposit.ins, {"limit": 200})
    assert author["audience"] == "document_author"
    assert {t["document_id"] for t in author["traces"]} == {deposit.document_id}
    assert other["document_id"] not in {t["document_id"] for t in author["traces"]}


def test_fhir_export_is_valid_audit_events(cluster: Any, deposit: Deposit) -> None:
    traced(cluster, deposit, 3)
    bundle = cluster.audit.history(deposit.patient, deposit.ins, {"format": "fhir"})
    parsed = Bundle.model_validate(bundle)
    resources: list[Any] = [entry.resource for entry in parsed.entry or []]
    assert resources and all(r.get_resource_type() == "AuditEvent" for r in resources)
    added = next(r for r in resources if r.subtype[0].code == "document_added")
    assert added.agent[0].who.identifier.value == deposit.doctor_rpps and added.action == "C"


def purged(
    cluster: Any, deposit: Deposit, clock: FakeClock, environment: dict[str, str]
) -> tuple[Any, str]:
    """Ask for the dossier's deletion, let the three months pass, purge it, and wait until its traces are
    gone: (audit's traces collection, the patient's id)."""
    cluster.dossier.request_deletion(deposit.patient, deposit.ins)
    # Three months pass before the purge: the deletion request's own trace is in the chain long before.
    eventually(
        lambda: "dossier_deletion_requested" in {t["type"] for t in traced(cluster, deposit, 4)}
    )
    settled(cluster, deposit, 4)
    clock.advance(timedelta(days=91))
    cluster.dossier.purge_due()
    traces = service_database(environment, "audit").traces
    patient_id = cluster.identity.patient_id_for(deposit.ins)
    assert eventually(lambda: traces.count_documents({"patient_id": patient_id}) == 0)
    return traces, str(patient_id)


def test_traces_are_purged_with_the_dossier(
    cluster: Any, deposit: Deposit, clock: FakeClock, environment: dict[str, str]
) -> None:
    traced(cluster, deposit, 3)
    cluster.audit.checkpoint()
    purged(cluster, deposit, clock, environment)
    assert cluster.audit.verify()[
        "intact"
    ]  # the checkpoint's head for that chain is known to be purged


def test_a_late_event_of_a_purged_dossier_leaves_nothing_in_the_trail(
    cluster: Any,
    deposit: Deposit,
    clock: FakeClock,
    environment: dict[str, str],
) -> None:
    settled(cluster, deposit, 3)
    traces, patient_id = purged(cluster, deposit, clock, environment)
    # An event of the dossier decided before its purge, delivered after it (a redelivery, a slow worker).
    dispatch = event_dispatcher(uri=config["AMQP_URI"])
    late = Event(
        type="document_read",
        source="dossier",
        occurred_at=utcnow(),
        patient_id=patient_id,
        document_id=deposit.document_id,
    )
    marker = Event(
        type="document_read", source="dossier", occurred_at=utcnow(), patient_id="pat_marker"
    )
    dispatch("dossier", "document_read", late.model_dump(mode="json"))
    dispatch("dossier", "document_read", marker.model_dump(mode="json"))
    eventually(lambda: traces.find_one({"patient_id": "pat_marker"}))
    time.sleep(0.5)
    assert traces.count_documents({"patient_id": patient_id}) == 0
    # A new dossier of the same patient, opened after the purge, is traced again.
    cluster.dossier.open(deposit.patient, {"ins": deposit.ins})
    eventually(lambda: traces.find_one({"patient_id": patient_id, "type": "dossier_opened"}))


def test_a_purge_that_dossier_does_not_confirm_erases_nothing(
    cluster: Any, deposit: Deposit, environment: dict[str, str]
) -> None:
    """A dossier_purged, well signed, for a dossier that is still open (a lying or mistaken peer): audit asks
    dossier, keeps the trail and traces the refusal in the system chain."""
    settled(cluster, deposit, 3)
    dossier = service_database(environment, "dossier").dossiers.find_one({"ins": deposit.ins})
    assert dossier is not None
    patient_id, traces = dossier["patient_id"], service_database(environment, "audit").traces
    kept = traces.count_documents({"patient_id": patient_id})
    lie = Event(
        type="dossier_purged",
        source="dossier",
        occurred_at=utcnow(),
        patient_id=patient_id,
        dossier_id=dossier["_id"],
    )
    event_dispatcher(config["AMQP_URI"])("dossier", "dossier_purged", lie.model_dump(mode="json"))
    refusal = eventually(
        lambda: traces.find_one({"rule": "R-PURGE-UNCONFIRMED", "data.event_id": lie.event_id})
    )
    assert (
        refusal is not None and refusal["type"] == "access_denied" and refusal["patient_id"] is None
    )
    assert traces.count_documents({"patient_id": patient_id}) == kept
    assert cluster.audit.verify()["intact"]


def test_the_verifier_reports_a_trail_erased_while_its_dossier_is_still_there(
    cluster: Any, deposit: Deposit, environment: dict[str, str]
) -> None:
    """A tombstone for a patient whose dossier, opened before the purge was decided, still exists: what an
    erasure by a lying peer (or by hand in the store) leaves; the verifier says so."""
    settled(cluster, deposit, 3)
    patient_id = str(cluster.identity.patient_id_for(deposit.ins))
    audit = service_database(environment, "audit")
    audit.purged_chains.insert_one(
        {
            "_id": patient_id,
            "purged_at": utcnow(),
            "event_id": "evt_lie",
            "purge_ms": int(utcnow().timestamp() * 1000),
        }
    )
    report = cluster.audit.verify()
    assert not report["intact"]
    assert {
        "chain": patient_id,
        "problem": "purged while its dossier is still there",
        "dossier_status": "open",
    } in report["breaks"]
