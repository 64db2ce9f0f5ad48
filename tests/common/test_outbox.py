"""Nothing is lost: events survive a service that dies before relaying them, and reach subscribers
that had never run when they were published."""

from typing import Any

import pytest
from nameko import config

from services.audit.service import AuditService
from services.common.clock import utcnow
from services.common.events import ActorRef, Event, EventType
from services.common.outbox import mark_pending
from services.common.rpc_client import RpcClient
from services.common.settings import Settings
from services.consent.service import ConsentService
from services.dossier.service import DossierService
from services.identity.service import IdentityService
from services.notify.service import NotifyService
from tests.conftest import People, service_database
from tests.journeys import eventually, submission
from tests.mailbox import DOSSIER_NEWS, Mailbox

pytestmark = pytest.mark.slow


def test_events_published_before_audit_and_notify_ever_ran_reach_them(
    environment: dict[str, str], rabbit_config: None, runner_factory: Any, smtp_server: Mailbox
) -> None:
    first = runner_factory(IdentityService, ConsentService, DossierService)
    first.start()
    with RpcClient(uri=config["AMQP_URI"], timeout=30, keys=Settings.load().bus_keys) as cluster:
        people = People(cluster)
        email = "early@patients.dmp-test.fr"
        ins, patient = people.patient(email=email)
        cluster.dossier.open(patient, {"ins": ins})
        _, doctor = people.professional()
        cluster.consent.record_consent(doctor, ins)
        document_id = cluster.dossier.add_document(doctor, ins, submission())["document_id"]
    dossier = service_database(environment, "dossier")
    # Published and confirmed into the subscribers' durable queues, which the relay declared.
    eventually(
        lambda: not (dossier.documents.find_one({"_id": document_id}) or {})["_outbox_pending"]
    )
    first.stop()

    second = runner_factory(
        IdentityService, ConsentService, DossierService, AuditService, NotifyService
    )
    second.start()
    with RpcClient(uri=config["AMQP_URI"], timeout=30, keys=Settings.load().bus_keys) as cluster:

        def traced() -> set[str]:
            return {t["type"] for t in cluster.audit.history(patient, ins)["traces"]}

        expected = {"dossier_opened", "consent_recorded", "document_added"}
        assert eventually(lambda: expected <= traced(), seconds=30)
    assert smtp_server.wait_for(email, 1, DOSSIER_NEWS)  # the deposit, told once notify came up


def test_events_left_pending_by_a_dead_service_are_published_by_the_next_one(
    environment: dict[str, str], rabbit_config: None, runner_factory: Any
) -> None:
    # As a dossier service that wrote a document and died before its relay ran would leave it.
    event = Event(
        type=EventType.DOCUMENT_ADDED,
        source="dossier",
        occurred_at=utcnow(),
        patient_id="pat_x",
        dossier_id="dos_x",
        document_id="doc_x",
        actor=ActorRef(kind="professional", id="rpps:1"),
    )
    dossier = service_database(environment, "dossier")
    dossier.documents.insert_one(mark_pending({"_id": "doc_x", "dossier_id": "dos_x"}, [event]))

    runner = runner_factory(DossierService, AuditService)
    runner.start()
    traces = service_database(environment, "audit").traces
    assert eventually(lambda: traces.find_one({"_id": event.event_id}) is not None)
    assert eventually(
        lambda: not (dossier.documents.find_one({"_id": "doc_x"}) or {})["_outbox_pending"]
    )
    assert traces.count_documents({"document_id": "doc_x"}) == 1
