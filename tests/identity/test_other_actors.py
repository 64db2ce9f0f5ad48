"""Counter agents and system clients: their own token kinds, their own (narrow) rights."""

from typing import Any

import pytest

from services.common.errors import AccessDenied, InvalidInput, Unauthenticated
from services.common.settings import Settings
from services.common.tokens import verify
from tests.conftest import People
from tests.identities import Card
from tests.journeys import submission

ADDRESS = "192.0.2.30"


def login(cluster: Any, actor_id: str, card: Card) -> str:
    nonce = cluster.identity.request_card_challenge({"actor_id": actor_id}, ADDRESS)["nonce"]
    token: str = cluster.identity.login_with_card(
        {"actor_id": actor_id, "nonce": nonce, "signature": card.sign(nonce)}, ADDRESS
    )["access_token"]
    return token


@pytest.fixture
def agent(cluster: Any) -> str:
    card = Card()
    cluster.identity.register_agent(
        {
            "agent_id": "CPAM75-0042",
            "organisation": "751",
            "given_name": "Dominique",
            "family_name": "Leroy",
            "card_public_key": card.public_pem,
        }
    )
    return login(cluster, "agent:CPAM75-0042", card)


@pytest.fixture
def feed(cluster: Any) -> str:
    key = Card()
    cluster.identity.register_system(
        {"client_id": "reimbursement-feed", "public_key": key.public_pem}
    )
    return login(cluster, "system:reimbursement-feed", key)


def test_counter_agent_token_is_its_own_kind(agent: str) -> None:
    actor = verify(agent, Settings.load())
    assert actor.kind == "counter_agent" and actor.organisation == "751"


def test_counter_agent_opens_a_dossier_but_never_reads_it(
    cluster: Any, people: People, agent: str
) -> None:
    ins, _ = people.patient()
    opened = cluster.dossier.open(agent, {"ins": ins, "patient_consent": True})
    assert opened["channel"] == "counter"
    with pytest.raises(AccessDenied) as error:
        cluster.dossier.search(agent, ins)
    assert error.value.details == [{"rule": "R-NO-CONTENT"}]


def test_feed_adds_reimbursement_data_and_nothing_else(
    cluster: Any, people: People, feed: str
) -> None:
    ins, patient = people.patient()
    cluster.dossier.open(patient, {"ins": ins})
    remb = submission(
        b"remboursements 2026",
        category="60",
        type_code="REMB",
        format="text/plain",
        title="Remboursements",
    )
    added = cluster.dossier.add_document(feed, ins, remb)
    assert added["category"] == "60" and added["author"]["kind"] == "system"
    with pytest.raises(AccessDenied):
        cluster.dossier.add_document(feed, ins, submission())  # a report, class 10
    with pytest.raises(AccessDenied):
        cluster.dossier.search(feed, ins)
    assert [d["category"] for d in cluster.dossier.search(patient, ins)["documents"]] == ["60"]


def test_suspended_agent_cannot_log_in(cluster: Any) -> None:
    card = Card()
    cluster.identity.register_agent(
        {
            "agent_id": "CPAM13-0007",
            "organisation": "131",
            "given_name": "C",
            "family_name": "D",
            "card_public_key": card.public_pem,
        }
    )
    cluster.identity.set_status("agent:CPAM13-0007", "suspended")
    with pytest.raises(AccessDenied):
        login(cluster, "agent:CPAM13-0007", card)


@pytest.mark.parametrize(
    "actor_id", ["insurer:axa", "rpps:10000000001", "agent:x", "employer:acme"]
)
def test_unknown_kinds_of_actor_cannot_even_ask_for_a_challenge(
    cluster: Any, actor_id: str
) -> None:
    with pytest.raises(InvalidInput) as error:
        cluster.identity.request_card_challenge({"actor_id": actor_id}, ADDRESS)
    assert error.value.details[0]["field"] == "actor_id"


def test_unregistered_system_cannot_log_in(cluster: Any) -> None:
    with pytest.raises(Unauthenticated):
        login(cluster, "system:unknown-client", Card())
