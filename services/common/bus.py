"""Who may do what on the bus: each principal's RabbitMQ permissions, derived from the code.

Every process connects as a broker user of its own (a *principal*): each service, the gateway, the
operators' commands, each admitted external service. What a principal may do is computed here, from
what the code declares, and applied by the set-up (services/common/broker_admin.py, for the local
broker, the tests and the Kubernetes set-up job):

- **RPC** (one topic exchange, `nameko-rpc`; a request's routing key is `service.method`): a principal
  may publish the requests of the methods whose `@rpc(callers=...)` names it (services/common/
  entrypoints.py), and the replies of the requests it serves; it binds only its own request queue
  (`service.*`) and its own reply queues (routing keys are random UUIDs; their queue names carry the
  principal's name), so nobody binds a wildcard to read others' requests or replies.
- **Events** (a topic exchange per source, `<source>.events`): only the source may publish there; a
  consumer binds only the event types of its subscriptions (services/common/subscriptions.py).
- **Queues**: a principal declares, binds and consumes only queues named after it. Nobody may publish
  to the default exchange, which would reach any queue by name; dead letters go through
  `dmp.malformed`, each service under its own routing key.

RabbitMQ's topic permissions apply only to the exchanges a principal has an entry for; every topic
exchange a principal may touch gets one here (an exchange without an entry would allow every key).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from kombu.connection import Connection
from kombu.entity import Exchange

from services.common.deadletters import CALLERS, DEAD_LETTER_EXCHANGE, dead_letter_queue
from services.common.events import EventType
from services.common.principals import SERVICES, Kind, allowed, kind_of
from services.common.subscriptions import SUBSCRIPTIONS

RPC_EXCHANGE = "nameko-rpc"
EVENT_SOURCES = (
    "identity",
    "consent",
    "dossier",
    "notify",
    "audit",
    "gateway",
)  # refusals: every service
REPLY_KEY = (
    "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"  # nameko's reply routing keys
)
NOTHING = "^$"


def events_exchange(source: str) -> str:
    return f"{source}.events"  # nameko's name (nameko.standalone.events.get_event_exchange)


def reply_queue_prefix(owner: str) -> str:
    """Reply queues are `rpc.reply-<owner>-<uuid>`: services' own (nameko), and our clients' (rpc_client)."""
    return f"rpc.reply-{owner}-"


def feed_queue_prefixes(owner: str) -> tuple[str, ...]:
    """A process's own queues following identity's events (services/common/sessions.py IdentityFeed)."""
    return f"sessions-ended.{owner}.", f"contacts-changed.{owner}."


@dataclass(frozen=True)
class Principal:
    name: str  # the service's name, "gateway", "operator[-...]", or an external service's name
    user: str = ""  # the broker user: `<prefix><name>` (services/common/principals.py)
    events: tuple[tuple[str, str], ...] = ()  # for a client: (source, event type) it may receive

    @property
    def username(self) -> str:
        return self.user or self.name

    @property
    def kind(self) -> Kind:
        return kind_of(self.name)


@dataclass(frozen=True)
class Grants:
    configure: str
    write: str
    read: str
    topics: dict[str, tuple[str, str]] = field(
        default_factory=dict
    )  # exchange -> (write, read) key regexes


def principals(prefix: str = "") -> list[Principal]:
    """The system's own principals; `prefix` makes their broker users unique on a shared broker."""
    return [Principal(name, f"{prefix}{name}") for name in (*SERVICES, "gateway", "operator")]


@cache
def service_classes() -> tuple[type[Any], ...]:
    """The services' classes (imported here, when asked: the services import this module)."""
    from services.audit.service import AuditService
    from services.consent.service import ConsentService
    from services.dossier.service import DossierService
    from services.identity.service import IdentityService
    from services.notify.service import NotifyService

    return IdentityService, ConsentService, DossierService, NotifyService, AuditService


def rpc_callers() -> dict[str, frozenset[str]]:
    """`service.method` -> who may call it, read from the services' entrypoints."""
    table: dict[str, frozenset[str]] = {}
    for service in service_classes():
        for attribute in dir(service):
            callers = getattr(getattr(service, attribute), CALLERS, None)
            if callers is not None:
                table[f"{service.name}.{attribute}"] = callers
    return table


def _prefixed(prefixes: Iterable[str], tail: str) -> list[str]:
    return [f"{re.escape(prefix)}{tail}" for prefix in prefixes]


def _regex(exact: Iterable[str], patterns: Iterable[str] = ()) -> str:
    """Exactly these names (escaped) or patterns; nothing at all when there are none."""
    alternatives = sorted({re.escape(name) for name in exact} | set(patterns))
    return f"^({'|'.join(alternatives)})$" if alternatives else NOTHING


def subscribed(principal: Principal) -> dict[str, tuple[str, ...]]:
    """source -> the event types this principal binds (its subscriptions, or a client's events)."""
    bound: dict[str, set[str]] = {}
    for subscription in SUBSCRIPTIONS:
        if subscription.consumer == principal.name and principal.kind is Kind.SERVICE:
            bound.setdefault(subscription.source, set()).update(subscription.event_types)
    for source, event_type in principal.events:
        bound.setdefault(source, set()).add(event_type)
    if principal.kind in (Kind.SERVICE, Kind.GATEWAY):  # token verifiers follow ended sessions
        bound.setdefault("identity", set()).add(EventType.SESSION_ENDED.value)
    if principal.name == "notify":  # its patients' contacts, kept while it follows their changes
        bound.setdefault("identity", set()).add(EventType.CONTACT_CHANGED.value)
    return {source: tuple(sorted(types)) for source, types in bound.items()}


def grants(principal: Principal) -> Grants:
    name, user = principal.name, principal.username
    owners = {name, user}
    serves = principal.kind is Kind.SERVICE
    emits = name if name in EVENT_SOURCES else None
    sources = subscribed(principal)

    own_queues = _prefixed((reply_queue_prefix(owner) for owner in owners), REPLY_KEY)
    own_queues += _prefixed(
        (prefix for owner in owners for prefix in feed_queue_prefixes(owner)), "[0-9a-f]{32}"
    )
    own_exact = {f"{name}.from-{source}" for source in sources}
    if serves:
        own_exact |= {f"rpc-{name}", f"{name}.dead-letter"}
    exchanges_declared = {RPC_EXCHANGE} | ({events_exchange(emits)} if emits else set())
    exchanges_written = {RPC_EXCHANGE} | ({events_exchange(emits)} if emits else set())
    exchanges_read = {RPC_EXCHANGE} | {events_exchange(source) for source in sources}
    if serves:
        exchanges_written.add(DEAD_LETTER_EXCHANGE)
        exchanges_read.add(DEAD_LETTER_EXCHANGE)

    calls = [key for key, callers in rpc_callers().items() if allowed(principal.name, callers)]
    topics = {
        RPC_EXCHANGE: (
            _regex(calls, [REPLY_KEY] if serves else []),
            _regex([f"{name}.*"] if serves else [], [REPLY_KEY]),
        ),
    }
    for source in EVENT_SOURCES:
        types = sources.get(source, ())
        write = (
            "^[a-z_]+$" if source == emits else NOTHING
        )  # an owner emits its own types, never a wildcard
        topics[events_exchange(source)] = (write, _regex(types))
    if serves:
        topics[DEAD_LETTER_EXCHANGE] = (_regex([name]), _regex([name]))
    return Grants(
        configure=_regex(own_exact | exchanges_declared, own_queues),
        write=_regex(own_exact | exchanges_written, own_queues),
        read=_regex(own_exact | exchanges_read, own_queues),
        topics=topics,
    )


def declare_topology(amqp_uri: str) -> None:
    """Declare the exchanges, the durable queues and their bindings, as the broker's administrator, before
    any service starts: the services may only check that the exchanges they do not own exist."""
    exchanges = [
        RPC_EXCHANGE,
        DEAD_LETTER_EXCHANGE,
        *(events_exchange(source) for source in EVENT_SOURCES),
    ]
    with Connection(amqp_uri) as connection:  # type: ignore[no-untyped-call]
        channel = connection.default_channel
        for name in exchanges:
            Exchange(name, type="topic", durable=True)(channel).declare()  # type: ignore[no-untyped-call]
        for queue in [
            *(subscription.queue for subscription in SUBSCRIPTIONS),
            *map(dead_letter_queue, SERVICES),
        ]:
            queue(channel).declare()  # type: ignore[no-untyped-call]
