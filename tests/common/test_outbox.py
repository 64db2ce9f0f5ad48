"""Nothing is lost: events written with their action survive a broker that cannot route them yet
and a service killed before relaying them."""

from typing import Any

import pytest
from nameko import config
from nameko.standalone.rpc import ClusterRpcClient
from pymongo import MongoClient

from services.audit.service import AuditService
from services.consent.service import ConsentService
from services.dossier.service import DossierService
from services.identity.service import IdentityService
from tests.conftest import People
from tests.journeys import eventually, submission

pytestmark = pytest.mark.slow


def test_events_wait_in_the_outbox_until_they_can_be_delivered(
    environment: dict[str, str], rabbit_config: None, runner_factory: Any
) -> None:
    first = runner_factory(IdentityService, ConsentService, DossierService)
    first.start()
    with ClusterRpcClient(uri=config["AMQP_URI"], timeout=30) as cluster:
        people = People(cluster)
        ins, patient = people.patient()
        cluster.dossier.open(patient, {"ins": ins})
        _, doctor = people.professional()
        cluster.consent.record_consent(doctor, ins)
        document_id = cluster.dossier.add_document(doctor, ins, submission())["document_id"]

    # No queue is bound to dossier's events yet (audit never ran): the broker cannot route them,
    # so the relay keeps them pending instead of dropping them.
    client: MongoClient[dict[str, Any]] = MongoClient(environment["MONGO_URI"])
    store = client[f"{environment['DMP_MONGO_DATABASE_PREFIX']}_dossier"]
    pending = store.documents.find_one({"_id": document_id})
    assert pending is not None and pending["_outbox_pending"]
    first.kill()  # the services die with their events still pending

    second = runner_factory(IdentityService, ConsentService, DossierService, AuditService)
    second.start()
    with ClusterRpcClient(uri=config["AMQP_URI"], timeout=30) as cluster:
        def traced() -> set[str]:
            return {t["type"] for t in cluster.audit.history(patient, ins)["traces"]}

        assert eventually(lambda: {"dossier_opened", "document_added"} <= traced(), seconds=30)
    assert eventually(lambda: not (store.documents.find_one({"_id": document_id}) or {})["_outbox_pending"])
