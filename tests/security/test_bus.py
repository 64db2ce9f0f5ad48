"""Hostile clients straight on the broker, against the system started as `make run` starts it, each
process with its own broker user: (a) no or foreign credentials, (b) an admitted external service with
its own user, (c) a compromised service (audit's user trying to act as dossier, identity or notify).
Every attack of issue 18's list that the broker can stop is refused by the broker itself; the external
service still does what the published contract lets it do."""

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote, urlparse

import amqp.exceptions
import jwt
import pytest
from kombu.connection import Connection
from kombu.entity import Exchange, Queue
from kombu.messaging import Producer
from nameko.exceptions import MethodNotFound
from pymongo import MongoClient

from services.common import broker_admin
from services.common.broker_admin import Management, remove, uri_for
from services.common.bus import Principal
from services.common.errors import NotFound, Unauthenticated
from services.common.keys import SigningKey
from services.common.principals import NamedPublisher, principal_of_uri, user_prefix
from services.common.rpc_client import RpcClient
from services.common.settings import Settings
from services.common.signatures import SIGNING_KEY, BusKeys, signing_variable
from tests.journeys import eventually
from tests.mailbox import DOSSIER_NEWS, LOGIN_CODE
from tests.queues import drain
from tests.system import Api, Running, document

REFUSED = (amqp.exceptions.AccessRefused, amqp.exceptions.NotAllowed)
RPC = Exchange("nameko-rpc", type="topic", durable=True, passive=True)  # type: ignore[no-untyped-call]


def events(source: str) -> Exchange:
    return Exchange(f"{source}.events", type="topic", durable=True, passive=True)  # type: ignore[no-untyped-call]


def publish(
    uri: str, exchange: Exchange | str, routing_key: str, body: object = None, **properties: str
) -> None:
    """Publish one message with broker confirms: a refused publish raises."""
    with Connection(uri, transport_options={"confirm_publish": True}) as connection:  # type: ignore[no-untyped-call]
        Producer(connection).publish(  # type: ignore[no-untyped-call]
            body if body is not None else {"args": [], "kwargs": {}},
            exchange=exchange,
            routing_key=routing_key,
            serializer="json",
            reply_to=str(uuid.uuid4()),
            correlation_id=str(uuid.uuid4()),
            **properties,
        )


def bind(uri: str, exchange: Exchange, routing_key: str, queue_name: str | None = None) -> None:
    """Declare a queue (a throwaway one, or a named durable one) and bind it: what sniffing needs."""
    with Connection(uri) as connection:  # type: ignore[no-untyped-call]
        queue = Queue(
            queue_name or f"sniff-{uuid.uuid4().hex}",
            exchange=exchange,  # type: ignore[no-untyped-call]
            routing_key=routing_key,
            durable=bool(queue_name),
            auto_delete=not queue_name,
        )
        queue(connection.default_channel).declare()  # type: ignore[no-untyped-call]


def consume(uri: str, queue_name: str) -> None:
    with Connection(uri) as connection:  # type: ignore[no-untyped-call]
        channel = connection.default_channel
        channel.basic_consume(queue_name, callback=lambda message: None)


def refused(attempt: Callable[[], object]) -> None:
    with pytest.raises(REFUSED):
        attempt()


@pytest.fixture(scope="module")
def audit_user(system: Running) -> str:
    """What an attacker who took over the audit service's pod holds."""
    return system.stack.principal_uris["audit"]


# (a) No or foreign credentials


def test_a_wrong_password_is_refused(admin: str, admitted: Principal, partner: str) -> None:
    wrong = uri_for(admin, admitted, "not-the-password")
    with pytest.raises(REFUSED), Connection(wrong) as connection:  # type: ignore[no-untyped-call]
        connection.connect()


def test_a_user_of_another_vhost_is_refused(admin: str) -> None:
    stranger = Principal("stranger", f"stranger-{uuid.uuid4().hex[:8]}")
    management, password = Management.for_broker(admin), uuid.uuid4().hex
    management.call("PUT", f"users/{stranger.username}", {"password": password, "tags": ""})
    try:
        with pytest.raises(REFUSED), Connection(uri_for(admin, stranger, password)) as connection:  # type: ignore[no-untyped-call]
            connection.connect()
    finally:
        remove(management, stranger)


# (b) An external service with its own user: what the contract allows works...


def test_an_external_service_calls_a_public_rpc_and_receives_its_events(
    system: Running, api: Api, partner: str
) -> None:
    ins, patient, doctor = api.dossier_with_consenting_doctor("partenaire@patients.dmp-test.fr")
    with Connection(partner) as connection:  # type: ignore[no-untyped-call]
        channel = connection.default_channel
        queue = Queue(
            "partner.from-dossier",
            exchange=events("dossier"),  # type: ignore[no-untyped-call]
            routing_key="document_added",
            durable=True,
        )
        queue(channel).declare()  # type: ignore[no-untyped-call]
        with RpcClient(uri=partner, timeout=10, keys=Settings.load().bus_keys) as cluster:
            assert cluster.dossier.status(patient["Authorization"][7:], ins)["status"] == "open"
        created = system.http.post(
            f"/api/v1/patients/{ins}/documents", json=document(b"%PDF-1.4 partner"), headers=doctor
        )
        assert created.status_code == 201
        received: list[dict[str, Any]] = []

        def take(body: dict[str, Any], message: Any) -> None:
            received.append(body)
            message.ack()

        with connection.Consumer(queue, callbacks=[take]):
            while not any(
                event["document_id"] == created.json()["document_id"] for event in received
            ):
                connection.drain_events(timeout=20)
    assert {event["type"] for event in received} == {"document_added"}


# ...and nothing else.

INTERNAL_CALLS = [
    "identity.contact_of",  # a patient's email and mobile
    "identity.set_status",  # suspend or reactivate any professional
    "identity.professional_contact",
    "notify.deliver_identity_message",  # mail anyone a "login code" from our sender
    "dossier.pharmacy_fees",
    "dossier.purge_due",
    "dossier.rewrap_keys",
    "consent.grant",  # the decision dossier asks for
    "audit.verify",
]


@pytest.mark.parametrize("call", INTERNAL_CALLS)
def test_an_external_service_cannot_call_an_internal_rpc(partner: str, call: str) -> None:
    refused(lambda: publish(partner, RPC, call))


@pytest.mark.parametrize(
    "key", ["#", "*.*", "dossier.*", "consent.*", "identity.login_with_code", "*"]
)
def test_an_external_service_cannot_read_others_requests(partner: str, key: str) -> None:
    refused(lambda: bind(partner, RPC, key))


def test_an_external_service_cannot_read_others_replies(partner: str) -> None:
    # A reply's routing key is a random UUID; a wildcard over them is what sniffing would need.
    refused(lambda: bind(partner, RPC, "#"))
    refused(lambda: consume(partner, "rpc.reply-gateway-00000000-0000-0000-0000-000000000000"))


def test_an_external_service_cannot_answer_for_consent(partner: str) -> None:
    """A forged reply to a caller's reply queue (its key is a UUID) would be a forged grant."""
    forged = {"result": {"allowed": True}, "error": None}
    refused(lambda: publish(partner, RPC, str(uuid.uuid4()), forged))


@pytest.mark.parametrize(
    "source, event_type",
    [
        ("dossier", "document_added"),
        ("dossier", "dossier_purged"),
        ("dossier", "document_released"),
        ("identity", "account_status_changed"),
        ("identity", "session_ended"),
        ("consent", "consent_recorded"),
    ],
)
def test_an_external_service_cannot_forge_an_event(
    partner: str, source: str, event_type: str
) -> None:
    refused(
        lambda: publish(partner, events(source), event_type, {"type": event_type, "source": source})
    )


@pytest.mark.parametrize(
    "source, key",
    [
        ("dossier", "#"),
        ("dossier", "document_read"),
        ("identity", "#"),
        ("identity", "logged_in"),
        ("consent", "#"),
    ],
)
def test_an_external_service_receives_only_the_events_it_was_admitted_for(
    partner: str, source: str, key: str
) -> None:
    refused(lambda: bind(partner, events(source), key, "partner.from-dossier"))


@pytest.mark.parametrize(
    "queue", ["rpc-identity", "audit.from-dossier", "notify.from-dossier", "dossier.dead-letter"]
)
def test_an_external_service_cannot_consume_or_feed_others_queues(partner: str, queue: str) -> None:
    refused(lambda: consume(partner, queue))
    refused(
        lambda: publish(partner, "", queue)
    )  # the default exchange reaches any queue by its name


# (c) A compromised service: audit's user


@pytest.mark.parametrize("event_type", ["document_added", "dossier_purged", "document_released"])
def test_audit_cannot_act_as_dossier(audit_user: str, event_type: str) -> None:
    refused(
        lambda: publish(
            audit_user, events("dossier"), event_type, {"type": event_type, "source": "dossier"}
        )
    )


def test_audit_cannot_act_as_identity(audit_user: str) -> None:
    refused(lambda: publish(audit_user, events("identity"), "account_status_changed"))
    refused(lambda: publish(audit_user, RPC, "identity.contact_of"))
    refused(lambda: publish(audit_user, RPC, "identity.set_status"))
    refused(lambda: publish(audit_user, RPC, "notify.deliver_identity_message"))


def test_audit_cannot_read_what_is_not_its_own(audit_user: str) -> None:
    refused(lambda: bind(audit_user, RPC, "consent.*"))
    refused(lambda: bind(audit_user, RPC, "#"))
    refused(lambda: consume(audit_user, "rpc-consent"))
    refused(lambda: consume(audit_user, "notify.from-dossier"))
    refused(lambda: publish(audit_user, "", "rpc-identity"))


def test_audit_still_does_its_own_work(
    audit_user: str, secrets: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control: the same user is allowed what audit needs (else every refusal above proves nothing); its
    calls signed with audit's key, as the audit process signs them."""
    publish(audit_user, "dmp.malformed", "audit", {"reason": "control"})
    bind(audit_user, events("dossier"), "#", "audit.from-dossier")
    monkeypatch.setenv(SIGNING_KEY, secrets[signing_variable("audit")])
    with RpcClient(uri=audit_user, timeout=10, keys=Settings.load().bus_keys) as cluster:
        assert cluster.consent.health()["status"] == "ok"


# Who sent it: RabbitMQ validates the user id each of our publishers puts on its messages, and every
# service decides on it (services/common/principals.py): the second lock, behind the broker's permissions.


def test_nobody_can_publish_in_another_principals_name(partner: str, admin: str) -> None:
    with pytest.raises(amqp.exceptions.PreconditionFailed):
        publish(partner, RPC, "dossier.status", user_id=f"{user_prefix(admin)}notify")


def traces(system: Running) -> Any:
    store: MongoClient[dict[str, Any]] = MongoClient(system.stack.env["MONGO_URI"], tz_aware=True)
    return store[f"{system.stack.env['DMP_MONGO_DATABASE_PREFIX']}_audit"].traces


def test_a_call_that_slips_past_the_broker_is_refused_by_the_service_and_traced(
    system: Running, admin: str
) -> None:
    """The broker's administrator may publish anything (as a misconfigured permission would let someone):
    the service still answers an internal method as if it did not exist, and traces the attempt."""
    with (
        RpcClient(uri=admin, timeout=10, keys=Settings.load().bus_keys) as cluster,
        pytest.raises(MethodNotFound),
    ):
        cluster.identity.contact_of("pat_x")
    trace = eventually(
        lambda: traces(system).find_one(
            {"type": "access_denied", "rule": "R-BUS-CALLER", "data.method": "identity.contact_of"}
        )
    )
    assert trace["chain"] == "system" and trace["data"]["caller"] == "unknown"


def test_an_event_not_published_by_its_source_is_dead_lettered_not_believed(
    system: Running, admin: str
) -> None:
    """A well-formed document_added on dossier's exchange, by someone who is not dossier: no trace, no mail."""
    forged = {
        "event_id": f"evt_forged_{uuid.uuid4().hex}",
        "type": "document_added",
        "source": "dossier",
        "occurred_at": "2026-11-23T10:00:00Z",
        "patient_id": "pat_innocent",
        "document_id": "doc_x",
    }
    publish(admin, events("dossier"), "document_added", forged)
    with Connection(admin) as connection:  # type: ignore[no-untyped-call]
        letters = eventually(
            lambda: [
                letter
                for letter in drain(connection, "audit.dead-letter")
                if json.loads(letter.body).get("event_id") == forged["event_id"]
            ]
        )
    assert len(letters) == 1 and "published by an unknown sender" in letters[0].headers["x-reason"]
    assert traces(system).find_one({"_id": forged["event_id"]}) is None


# (d) Signatures: what a thief of a service's broker password still cannot do (services/common/signatures.py).
# The messages below go out on the dossier's own broker user, so the broker's permissions and validated user
# id let them through: only the signature stops them.


@pytest.fixture(scope="module")
def dossier_user(system: Running) -> str:
    """What an attacker holds who stole the dossier service's broker password (not its signing key)."""
    return system.stack.principal_uris["dossier"]


def key_of(secrets: dict[str, str], name: str) -> BusKeys:
    """Signing as `name`, with the key of that principal's process."""
    return BusKeys({name: SigningKey.parse(secrets[signing_variable(name)])}, {})


def publish_raw(
    uri: str,
    exchange: Exchange,
    routing_key: str,
    body: bytes,
    headers: dict[str, Any],
    **properties: str,
) -> None:
    with Connection(uri, transport_options={"confirm_publish": True}) as connection:  # type: ignore[no-untyped-call]
        Producer(connection).publish(  # type: ignore[no-untyped-call]
            body,
            exchange=exchange,
            routing_key=routing_key,
            content_type="application/json",
            content_encoding="utf-8",
            headers=headers,
            user_id=unquote(urlparse(uri).username or ""),
            **properties,
        )


def forged_event(patient_id: str = "pat_innocent") -> tuple[str, bytes]:
    event_id = f"evt_forged_{uuid.uuid4().hex}"
    return event_id, json.dumps(
        {
            "event_id": event_id,
            "type": "document_added",
            "source": "dossier",
            "occurred_at": "2026-11-23T10:00:00Z",
            "patient_id": patient_id,
            "document_id": "doc_x",
        }
    ).encode()


def unsigned(secrets: dict[str, str], body: bytes) -> tuple[bytes, dict[str, Any]]:
    return body, {}


def signed_by_notify(secrets: dict[str, str], body: bytes) -> tuple[bytes, dict[str, Any]]:
    return body, key_of(secrets, "notify").sign("notify", "dossier.events", "document_added", body)


def altered_after_signing(secrets: dict[str, str], body: bytes) -> tuple[bytes, dict[str, Any]]:
    genuine = json.dumps({**json.loads(body), "patient_id": "pat_other"}).encode()
    return body, key_of(secrets, "dossier").sign(
        "dossier", "dossier.events", "document_added", genuine
    )


def signed_with_an_unpublished_key(
    secrets: dict[str, str], body: bytes
) -> tuple[bytes, dict[str, Any]]:
    stranger = BusKeys({"dossier": SigningKey.generate("dossier.stolen")}, {})
    return body, stranger.sign("dossier", "dossier.events", "document_added", body)


@pytest.mark.parametrize(
    "forge, reason",
    [
        (unsigned, "an event of dossier: unsigned"),
        (signed_by_notify, "an event of dossier signed by notify"),
        (
            altered_after_signing,
            "an event of dossier: a signature by dossier that does not match the message",
        ),
        (
            signed_with_an_unpublished_key,
            "an event of dossier: signed with an unknown key (dossier.stolen)",
        ),
    ],
)
def test_an_event_not_signed_by_its_source_is_dead_lettered_traced_and_not_believed(
    system: Running,
    admin: str,
    dossier_user: str,
    secrets: dict[str, str],
    forge: Callable[..., Any],
    reason: str,
) -> None:
    forgeries = {
        "rule": "R-BUS-SIGNATURE",
        "data.queue": "audit.from-dossier",
        "data.reason": reason,
    }
    before = traces(system).count_documents(forgeries)
    event_id, body = forged_event()
    publish_raw(dossier_user, events("dossier"), "document_added", *forge(secrets, body))
    with Connection(admin) as connection:  # type: ignore[no-untyped-call]
        letters = eventually(
            lambda: [
                letter
                for letter in drain(connection, "audit.dead-letter")
                if json.loads(letter.body).get("event_id") == event_id
            ]
        )
    assert letters[0].headers["x-reason"] == reason
    assert eventually(lambda: traces(system).count_documents(forgeries) > before)
    assert traces(system).find_one({"_id": event_id}) is None


def test_a_genuine_event_replayed_verbatim_is_taken_once(
    system: Running, api: Api, admin: str, dossier_user: str
) -> None:
    """Captured off the broker (as its administrator can) and published again, signature and all, with the
    dossier's stolen broker password: the audit trail keeps one trace of it, notify sends one mail."""
    capture = f"capture-{uuid.uuid4().hex}"
    bind(admin, events("dossier"), "document_added", capture)
    email = f"replay-{uuid.uuid4().hex[:8]}@patients.dmp-test.fr"
    ins, _, doctor = api.dossier_with_consenting_doctor(email)
    assert (
        system.http.post(
            f"/api/v1/patients/{ins}/documents", json=document(b"%PDF-1.4 replay"), headers=doctor
        ).status_code
        == 201
    )
    with Connection(admin) as connection:  # type: ignore[no-untyped-call]
        genuine = eventually(lambda: drain(connection, capture))[0]
    event_id = json.loads(genuine.body)["event_id"]
    assert eventually(lambda: traces(system).find_one({"_id": event_id}))
    mails = len(eventually(lambda: system.mailbox.messages(email, DOSSIER_NEWS)))
    for _ in range(3):
        publish_raw(
            dossier_user, events("dossier"), "document_added", genuine.body, dict(genuine.headers)
        )
    # a later deposit, traced and mailed after the replays were consumed (one queue, in order)
    assert (
        system.http.post(
            f"/api/v1/patients/{ins}/documents", json=document(b"%PDF-1.4 after"), headers=doctor
        ).status_code
        == 201
    )
    system.mailbox.wait_for(email, mails + 1, DOSSIER_NEWS)
    assert traces(system).count_documents({"_id": event_id}) == 1
    assert len(system.mailbox.messages(email, DOSSIER_NEWS)) == mails + 1


def test_a_forged_reply_that_arrives_first_is_dropped_and_the_real_answer_taken(
    system: Running, dossier_user: str, secrets: dict[str, str]
) -> None:
    """Before each request leaves, forged answers sit in the caller's reply queue, published with the called
    service's stolen broker password (so the broker lets them through): unsigned, signed by another service,
    and signed by the called service for another call. None is taken; the caller gets the real answer."""
    forged = json.dumps({"result": {"forged": True}, "error": None}).encode()
    forged_replies = 0

    def forge(correlation_id: str, reply_to: str) -> None:
        nonlocal forged_replies
        dossier, notify = key_of(secrets, "dossier"), key_of(secrets, "notify")
        for headers in (
            {"x-dmp-answers": "dossier.health"},
            notify.sign("notify", "nameko-rpc", reply_to, forged, correlation_id, "dossier.health"),
            dossier.sign(
                "dossier", "nameko-rpc", reply_to, forged, correlation_id, "dossier.pharmacy_fees"
            ),
        ):
            publish_raw(dossier_user, RPC, reply_to, forged, headers, correlation_id=correlation_id)
            forged_replies += 1

    with RpcClient(
        uri=system.stack.operator_uri, timeout=30, keys=Settings.load().bus_keys
    ) as cluster:
        original = NamedPublisher.publish

        def publish_after_forgeries(self: NamedPublisher, payload: Any, **kwargs: Any) -> None:
            forge(
                kwargs["correlation_id"], self.publish_kwargs.get("reply_to") or kwargs["reply_to"]
            )
            original(self, payload, **kwargs)

        NamedPublisher.publish = publish_after_forgeries  # type: ignore[method-assign]
        try:
            answers = [cluster.dossier.health() for _ in range(3)]
        finally:
            NamedPublisher.publish = original  # type: ignore[method-assign]
    assert forged_replies == 9
    assert all("forged" not in answer and answer for answer in answers), answers


@contextmanager
def every_call_published_twice() -> Iterator[list[str]]:
    """What a publisher's retry after a lost confirm does: the same request, under the same id, twice."""
    original, copies = NamedPublisher.publish, []

    def publish_twice(self: NamedPublisher, payload: Any, **kwargs: Any) -> None:
        original(self, payload, **kwargs)
        original(self, payload, **kwargs)
        copies.append(kwargs["correlation_id"])

    NamedPublisher.publish = publish_twice  # type: ignore[method-assign]
    try:
        yield copies
    finally:
        NamedPublisher.publish = original  # type: ignore[method-assign]


def copies_refused(system: Running, method: str, caller: str, earlier: int) -> list[dict[str, Any]]:
    found = list(
        traces(system).find(
            {
                "type": "access_denied",
                "rule": "R-BUS-REPLAY",
                "data.method": method,
                "data.caller": caller,
            }
        )
    )
    return found if len(found) >= earlier + 3 else []


def test_a_call_published_twice_is_answered_once_with_its_real_answer(
    system: Running, secrets: dict[str, str]
) -> None:
    """A signed request copied onto the bus (a publisher's retry after a lost confirm, or an attacker's
    replay) reaches the service twice; the copy is refused and traced, but not answered: its refusal,
    sent to the genuine caller under the call's own id, came before the real answer and failed the call
    (the fault test's deposit answered 500 after a broker outage), and whoever could replay calls could
    fail everybody's that way."""
    earlier = len(copies_refused(system, "identity.contact_of", "notify", -(10**9)))
    with (
        RpcClient(
            uri=system.stack.principal_uris["notify"],
            timeout=30,
            keys=lambda: BusKeys(key_of(secrets, "notify").signing, system.stack.bus_keys().public),
        ) as notify,
        every_call_published_twice() as copies,
    ):
        for _ in range(3):  # the real answer: no such patient (the copy's refusal: no such method)
            with pytest.raises(NotFound):
                notify.identity.contact_of(f"pat_twice_{uuid.uuid4().hex[:8]}")
    assert len(copies) == 3
    refused = eventually(lambda: copies_refused(system, "identity.contact_of", "notify", earlier))
    assert all("a replay" in refusal["data"]["reason"] for refusal in refused)


def test_an_operators_call_published_twice_runs_once(system: Running) -> None:
    """Unsigned (an operator's broker user is their proof), a call is still taken once by its id: the copy
    of a purge or a key rotation is not run twice, and the operator gets the real answer."""
    caller = principal_of_uri(system.stack.operator_uri) or ""
    earlier = len(copies_refused(system, "audit.verify", caller, -(10**9)))
    commands = {"type": "operator_command", "data.method": "audit.verify", "data.operator": caller}
    ran_before = traces(system).count_documents(commands)
    with (
        RpcClient(
            uri=system.stack.operator_uri, timeout=30, keys=system.stack.bus_keys
        ) as operator,
        every_call_published_twice() as copies,
    ):
        answers = [operator.audit.verify() for _ in range(3)]
    assert len(copies) == 3 and all("intact" in answer for answer in answers), answers
    eventually(lambda: copies_refused(system, "audit.verify", caller, earlier))
    assert traces(system).count_documents(commands) == ran_before + 3  # run once each, traced once


def test_a_login_code_and_its_address_never_cross_the_bus_in_clear(
    system: Running, api: Api, admin: str
) -> None:
    """The broker's administrator, copying identity's calls to notify off the bus, holds a sealed blob: the
    code the patient receives and the address it goes to are not in it (services/common/sealing.py)."""
    copy = f"copy-{uuid.uuid4().hex}"
    bind(admin, RPC, "notify.deliver_identity_message", copy)
    email = f"sealed-{uuid.uuid4().hex[:8]}@patients.dmp-test.fr"
    ins = api.register_patient(email)
    already = len(system.mailbox.messages(email, LOGIN_CODE))
    assert (
        system.http.post(
            "/api/v1/login/patient/code", json={"ins": ins, "channel": "email"}
        ).status_code
        == 202
    )
    mail = system.mailbox.wait_for(email, already + 1, LOGIN_CODE)[-1]
    code = re.search(r"\b(\d{6})\b", mail.get_content())
    assert code is not None
    with Connection(admin) as connection:  # type: ignore[no-untyped-call]
        calls = eventually(lambda: drain(connection, copy))
    bodies = [call.body if isinstance(call.body, str) else call.body.decode() for call in calls]
    assert bodies and all(list(json.loads(body)["args"][0]) == ["sealed"] for body in bodies)
    assert not [body for body in bodies if code.group(1) in body or email in body or ins in body]


def test_the_users_access_token_stops_at_the_gateway(
    system: Running, api: Api, admin: str, secrets: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Copied off the bus, what the gateway hands dossier is a credential for dossier alone (services/common/
    tokens.py): the gateway refuses it over HTTP, and consent refuses it even from the gateway's own user."""
    copy = f"copy-{uuid.uuid4().hex}"
    bind(admin, RPC, "dossier.search", copy)
    ins, patient, _ = api.dossier_with_consenting_doctor(
        f"credential-{uuid.uuid4().hex[:8]}@patients.dmp-test.fr"
    )
    assert system.http.get(f"/api/v1/patients/{ins}/documents", headers=patient).status_code == 200
    with Connection(admin) as connection:  # type: ignore[no-untyped-call]
        calls = eventually(lambda: drain(connection, copy))
    bearer = patient["Authorization"].removeprefix("Bearer ")
    copied = json.loads(calls[0].body)["args"][0]
    assert copied != bearer and bearer not in calls[0].body
    assert jwt.get_unverified_header(copied)["typ"] == "dmp-credential"
    assert jwt.decode(copied, options={"verify_signature": False})["aud"] == "dmp-bus:dossier"
    replayed = system.http.get(
        f"/api/v1/patients/{ins}/documents", headers={"Authorization": f"Bearer {copied}"}
    )
    assert replayed.status_code == 401
    monkeypatch.setenv(
        SIGNING_KEY, secrets[signing_variable("gateway")]
    )  # the gateway's user and key
    with (
        RpcClient(
            uri=system.stack.principal_uris["gateway"], timeout=10, keys=Settings.load().bus_keys
        ) as stolen,
        pytest.raises(Unauthenticated, match="not valid here"),
    ):
        stolen.consent.settings(copied, ins)


def test_a_named_operator_is_admitted_and_what_it_runs_is_traced_by_name(
    system: Running, admin: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`broker_admin admit-operator alice` gives operator-alice a user of her own; each operator-only method
    she runs is traced in the system chain under her name (not what anyone may call, such as health)."""
    monkeypatch.setenv("AMQP_URI", admin)
    broker_admin.main(["admit-operator", "alice"])
    alice = capsys.readouterr().out.strip()
    try:
        with RpcClient(uri=alice, timeout=60, keys=Settings.load().bus_keys) as cluster:
            cluster.audit.verify()
            cluster.dossier.health()
        trace = eventually(
            lambda: traces(system).find_one(
                {
                    "type": "operator_command",
                    "data.operator": "operator-alice",
                    "data.method": "audit.verify",
                }
            )
        )
        assert trace["patient_id"] is None and trace["source"] == "audit"
        assert (
            traces(system).find_one({"type": "operator_command", "data.method": "dossier.health"})
            is None
        )
    finally:
        broker_admin.main(["remove", "operator-alice"])


# (e) Calls: a service's call is signed as a credential of that one call (services/common/signatures.py).


def test_a_services_broker_password_without_its_key_calls_nothing(
    system: Running, dossier_user: str
) -> None:
    """The thief of dossier's broker password, calling what dossier may call, unsigned: answered as for a
    method that does not exist, and traced."""
    with (
        RpcClient(uri=dossier_user, timeout=10, keys=Settings.load().bus_keys) as cluster,
        pytest.raises(MethodNotFound),
    ):
        cluster.consent.grant("not-a-token", "1" * 15, "read")
    trace = eventually(
        lambda: traces(system).find_one(
            {"type": "access_denied", "rule": "R-BUS-SIGNATURE", "data.method": "consent.grant"}
        )
    )
    assert (
        trace["data"]["caller"] == "dossier"
        and trace["data"]["reason"] == "an unsigned call from dossier"
    )


def test_a_call_signed_with_another_services_key_is_refused(
    system: Running, dossier_user: str, secrets: dict[str, str]
) -> None:
    """dossier's broker password with notify's key (two thefts): the signature must be dossier's."""
    signed_request(
        dossier_user,
        key_of(secrets, "notify"),
        "notify",
        "consent.grant",
        ["not-a-token", "2" * 15, "read"],
    )
    trace = eventually(
        lambda: traces(system).find_one(
            {
                "type": "access_denied",
                "rule": "R-BUS-SIGNATURE",
                "data.reason": "a call from dossier signed by notify",
            }
        )
    )
    assert trace["data"]["method"] == "consent.grant"


def signed_request(
    uri: str, keys: BusKeys, signer: str, routing_key: str, args: list[Any], times: int = 1
) -> None:
    body = json.dumps({"args": args, "kwargs": {}}).encode()
    correlation_id, reply_to = str(uuid.uuid4()), str(uuid.uuid4())
    headers = keys.sign_request(
        signer,
        "nameko-rpc",
        routing_key,
        correlation_id,
        reply_to,
        body,
        time.time_ns() // 1_000_000,
    )
    for _ in range(times):
        publish_raw(
            uri, RPC, routing_key, body, headers, correlation_id=correlation_id, reply_to=reply_to
        )


def test_a_signed_call_copied_and_sent_again_is_refused_as_a_replay(
    system: Running, secrets: dict[str, str]
) -> None:
    """A genuine call of notify, sent twice on notify's user: the first is answered, the copy refused."""
    signed_request(
        system.stack.principal_uris["notify"],
        key_of(secrets, "notify"),
        "notify",
        "identity.contact_of",
        [f"pat_replay_{uuid.uuid4().hex[:8]}"],
        times=2,
    )
    trace = eventually(
        lambda: traces(system).find_one(
            {"type": "access_denied", "rule": "R-BUS-REPLAY", "data.method": "identity.contact_of"}
        )
    )
    assert trace["data"]["caller"] == "notify" and "a replay" in trace["data"]["reason"]
