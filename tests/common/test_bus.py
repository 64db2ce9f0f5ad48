"""The broker permissions derived from the code (services/common/bus.py), read as RabbitMQ reads them:
regular expressions over routing keys and resource names. The broker itself is attacked in
tests/security/test_bus.py."""

import re

import pytest

from services.common.bus import Principal, grants, principals, rpc_callers
from services.common.principals import allowed, caller_of

OWN = {p.name: p for p in principals("dmp-")}


def publishes(principal: Principal, key: str) -> bool:
    return re.search(grants(principal).topics["nameko-rpc"][0], key) is not None


def binds(principal: Principal, exchange: str, key: str) -> bool:
    return re.search(grants(principal).topics[exchange][1], key) is not None


def test_every_rpc_method_says_who_may_call_it() -> None:
    table = rpc_callers()
    assert table["identity.contact_of"] == {"notify"}
    assert table["identity.set_status"] == {"operators"}
    assert table["dossier.search"] == {"clients", "operators"}
    assert all(callers for callers in table.values())


@pytest.mark.parametrize(
    "principal, key, expected",
    [
        ("notify", "identity.contact_of", True),
        ("gateway", "identity.contact_of", False),
        ("audit", "identity.contact_of", False),
        ("identity", "notify.deliver_identity_message", True),
        ("gateway", "notify.deliver_identity_message", False),
        ("operator", "identity.set_status", True),
        ("gateway", "identity.set_status", False),
        ("gateway", "dossier.search", True),
        ("operator", "dossier.purge_due", True),
        ("dossier", "consent.grant", True),
        ("gateway", "consent.grant", False),
        ("gateway", "#", False),
        ("gateway", "dossier.*", False),
    ],
)
def test_requests_a_principal_may_publish(principal: str, key: str, expected: bool) -> None:
    assert publishes(OWN[principal], key) is expected


def test_only_services_answer_replies_and_nobody_binds_a_wildcard() -> None:
    reply = "0f8fad5b-d9cb-469f-a165-70867728950e"
    assert publishes(OWN["consent"], reply) and not publishes(OWN["gateway"], reply)
    for principal in OWN.values():
        for key in ("#", "*", "*.*", "#.#"):
            assert not binds(principal, "nameko-rpc", key), (principal.name, key)
    assert binds(OWN["consent"], "nameko-rpc", "consent.*") and not binds(
        OWN["audit"], "nameko-rpc", "consent.*"
    )


def test_only_the_source_publishes_its_events() -> None:
    for principal in OWN.values():
        write = grants(principal).topics["dossier.events"][0]
        assert (re.search(write, "document_added") is not None) is (principal.name == "dossier"), (
            principal.name
        )


def test_consumers_bind_only_what_they_subscribe_to() -> None:
    assert binds(OWN["audit"], "dossier.events", "#")  # the trail takes every event
    assert binds(OWN["notify"], "dossier.events", "document_added")
    assert not binds(OWN["notify"], "dossier.events", "#")
    assert not binds(OWN["notify"], "dossier.events", "document_read")
    partner = Principal("partner", "dmp-partner", (("dossier", "document_added"),))
    assert binds(partner, "dossier.events", "document_added") and not binds(
        partner, "identity.events", "#"
    )


def test_queues_are_named_after_their_owner() -> None:
    read = grants(OWN["audit"]).read
    assert re.search(read, "audit.from-dossier") and re.search(read, "rpc-audit")
    assert not re.search(read, "notify.from-dossier") and not re.search(read, "rpc-consent")
    for (
        principal
    ) in OWN.values():  # the default exchange reaches any queue by name: nobody writes to it
        assert not re.search(grants(principal).write, "amq.default"), principal.name


def test_the_caller_is_the_validated_user_less_the_systems_prefix() -> None:
    assert caller_of("dmp-notify", "dmp-identity", "identity") == "notify"
    assert caller_of("other-notify", "dmp-identity", "identity") is None
    assert caller_of(None, "dmp-identity", "identity") is None
    assert allowed("partner", frozenset({"clients"})) and not allowed(
        "partner", frozenset({"operators"})
    )
    assert allowed("operator-alice", frozenset({"operators"})) and not allowed(
        "gateway", frozenset({"notify"})
    )


def test_an_external_service_named_like_a_group_gets_nothing_of_that_group() -> None:
    for name in ("operators", "everyone", "clients"):
        assert not allowed(name, frozenset({"operators"})), name
        assert not publishes(Principal(name, f"dmp-{name}"), "identity.set_status"), name
