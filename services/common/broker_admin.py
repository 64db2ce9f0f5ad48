"""The broker's users, permissions and topology, applied through RabbitMQ's management API.

What each principal may do is computed by services/common/bus.py from the code; this applies it:
one user per principal with a password of its own, its vhost permissions and topic permissions, and
the exchanges, durable queues and bindings (declared as the administrator, before any service starts).

    python -m services.common.broker_admin admit NAME [--events SOURCE:TYPE ...]  # prints its AMQP URI
    python -m services.common.broker_admin rotate NAME  # a new password for a principal; prints its URI
    python -m services.common.broker_admin show NAME    # what a principal may do

The administrator's credentials come from AMQP_URI (the vhost is its path) and the management API
from DMP_RABBITMQ_MANAGEMENT_URL (default: the broker's host, port 15672). docs/operations.md says
when to use each command.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlparse

from services.common import bus
from services.common.bus import Principal
from services.common.principals import Kind, kind_of


@dataclass(frozen=True)
class Management:
    """RabbitMQ's HTTP management API, as the administrator."""

    url: str
    user: str
    password: str

    @classmethod
    def for_broker(cls, amqp_uri: str) -> Management:
        parsed = urlparse(amqp_uri)
        default = f"http://{parsed.hostname or '127.0.0.1'}:15672"
        url = os.environ.get("DMP_RABBITMQ_MANAGEMENT_URL", default).rstrip("/")
        return cls(url, unquote(parsed.username or "guest"), unquote(parsed.password or "guest"))

    def call(self, method: str, path: str, body: object | None = None) -> object:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.url}/api/{path}", data=data, method=method)  # noqa: S310
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (the operator's own broker)
            text = response.read()
        return json.loads(text) if text else None

    def answers(self) -> bool:
        try:
            self.call("GET", "overview")
            return True
        except (OSError, urllib.error.URLError):
            return False


def vhost_of(amqp_uri: str) -> str:
    path = urlparse(amqp_uri).path
    return unquote(path[1:]) if len(path) > 1 else "/"


def uri_for(amqp_uri: str, principal: Principal, password: str) -> str:
    """The admin's URI with the principal's credentials instead."""
    parsed = urlparse(amqp_uri)
    netloc = f"{quote(principal.username, safe='')}:{quote(password, safe='')}@{parsed.hostname}"
    if parsed.port:
        netloc += f":{parsed.port}"
    return parsed._replace(netloc=netloc).geturl()


def user_prefix(amqp_uri: str) -> str:
    """Broker users are global: those of a vhost other than the default carry its name."""
    vhost = vhost_of(amqp_uri)
    return "dmp-" if vhost == "/" else f"{vhost}-"


def apply(management: Management, vhost: str, principal: Principal, password: str) -> None:
    grants = bus.grants(principal)
    user = quote(principal.username, safe="")
    where = quote(vhost, safe="")
    management.call("PUT", f"users/{user}", {"password": password, "tags": ""})
    management.call("PUT", f"permissions/{where}/{user}",
                    {"configure": grants.configure, "write": grants.write, "read": grants.read})
    for exchange, (write, read) in grants.topics.items():
        topic = {"exchange": exchange, "write": write, "read": read}
        management.call("PUT", f"topic-permissions/{where}/{user}", topic)


def remove(management: Management, principal: Principal) -> None:
    try:
        management.call("DELETE", f"users/{quote(principal.username, safe='')}")
    except urllib.error.HTTPError as error:
        if error.code != 404:
            raise


def provision(amqp_uri: str, extra: tuple[Principal, ...] = ()) -> dict[str, str]:
    """Create (or reset) every principal's user on the broker of `amqp_uri` (the administrator's), with a
    fresh password, and declare the topology; return each principal's AMQP URI by name."""
    management = Management.for_broker(amqp_uri)
    vhost = vhost_of(amqp_uri)
    bus.declare_topology(amqp_uri)
    uris = {}
    for principal in (*bus.principals(user_prefix(amqp_uri)), *extra):
        password = secrets.token_urlsafe(24)
        apply(management, vhost, principal, password)
        uris[principal.name] = uri_for(amqp_uri, principal, password)
    return uris


def deprovision(amqp_uri: str, extra: tuple[Principal, ...] = ()) -> None:
    management = Management.for_broker(amqp_uri)
    for principal in (*bus.principals(user_prefix(amqp_uri)), *extra):
        remove(management, principal)


def ensure_management(amqp_uri: str) -> None:
    """The management API answers (enabling the plugin on a local broker if needed), or exit saying why."""
    management = Management.for_broker(amqp_uri)
    if management.answers():
        return
    plugins = shutil.which("rabbitmq-plugins")
    if plugins is None:
        sys.exit("The RabbitMQ management API does not answer and rabbitmq-plugins is not installed: enable "
                 "rabbitmq_management on your broker (or set DMP_RABBITMQ_MANAGEMENT_URL).")
    subprocess.run([plugins, "enable", "rabbitmq_management"], check=True)  # noqa: S603
    for _ in range(60):
        if management.answers():
            return
        time.sleep(1)
    sys.exit("The RabbitMQ management API did not answer after enabling the plugin.")


def external(name: str, events: list[str], amqp_uri: str) -> Principal:
    pairs = []
    for item in events:
        source, _, event_type = item.partition(":")
        if source not in bus.EVENT_SOURCES or not event_type:
            sys.exit(f"--events takes SOURCE:TYPE with SOURCE one of {', '.join(bus.EVENT_SOURCES)}; got {item!r}")
        pairs.append((source, event_type))
    if kind_of(name) is not Kind.CLIENT:
        sys.exit(f"{name} is a name of the system's own principals; an external service needs another")
    return Principal(name, f"{user_prefix(amqp_uri)}{name}", tuple(pairs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    admit = commands.add_parser("admit", help="admit an external service (prints its AMQP URI once)")
    admit.add_argument("name")
    admit.add_argument("--events", nargs="*", default=[], metavar="SOURCE:TYPE")
    rotate = commands.add_parser("rotate", help="a new password for one of the system's principals")
    rotate.add_argument("name")
    show = commands.add_parser("show", help="the permissions of one of the system's principals")
    show.add_argument("name")
    args = parser.parse_args()
    amqp_uri = os.environ.get("AMQP_URI", "pyamqp://guest:guest@127.0.0.1:5672/")
    own = {p.name: p for p in bus.principals(user_prefix(amqp_uri))}
    if args.command == "admit":
        if args.name in own:
            sys.exit(f"{args.name} is one of the system's own principals; use rotate")
        principal = external(args.name, args.events, amqp_uri)
    elif args.name not in own:
        sys.exit(f"unknown principal {args.name}; one of {', '.join(own)}")
    else:
        principal = own[args.name]
    if args.command == "show":
        print(json.dumps(bus.grants(principal).__dict__, indent=2))
        return
    password = secrets.token_urlsafe(24)
    apply(Management.for_broker(amqp_uri), vhost_of(amqp_uri), principal, password)
    print(uri_for(amqp_uri, principal, password))


if __name__ == "__main__":
    main()
