"""The broker's users, permissions and topology, applied through RabbitMQ's management API.

What each principal may do is computed by services/common/bus.py from the code; this applies it:
one user per principal with a password of its own, its vhost permissions and topic permissions, and
the exchanges, durable queues and bindings (declared as the administrator, before any service starts).

    python -m services.common.broker_admin provision --passwords-from-env  # every system principal
    python -m services.common.broker_admin admit NAME [--events SOURCE:TYPE ...]  # prints its AMQP URI
    python -m services.common.broker_admin admit-operator NAME  # operator-NAME, traced by name; prints its URI
    python -m services.common.broker_admin rotate NAME  # a new password for a principal; prints its URI
    python -m services.common.broker_admin show NAME    # what a principal may do
    python -m services.common.broker_admin remove NAME  # an external service or a named operator leaves

`provision --passwords-from-env` is the Kubernetes set-up job (deploy/k8s/base/broker-setup.yaml): each
principal's password is the one its Deployment's Secret holds, read from DMP_BROKER_PASSWORD_<NAME>.
The administrator's credentials come from AMQP_URI (the vhost is its path) and the management API
from DMP_RABBITMQ_MANAGEMENT_URL (default: the broker's host, port 15672). docs/operations.md says
when to use each command.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlparse

from amqp.exceptions import AMQPError
from kombu.exceptions import OperationalError

from services.common import bus
from services.common.bus import Grants, Principal
from services.common.errors import ConfigurationError
from services.common.healthcheck import where
from services.common.principals import Kind, kind_of, user_prefix, vhost_of


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


def uri_for(amqp_uri: str, principal: Principal, password: str) -> str:
    """The admin's URI with the principal's credentials instead."""
    parsed = urlparse(amqp_uri)
    netloc = f"{quote(principal.username, safe='')}:{quote(password, safe='')}@{parsed.hostname}"
    if parsed.port:
        netloc += f":{parsed.port}"
    return parsed._replace(netloc=netloc).geturl()


def apply(management: Management, vhost: str, principal: Principal, password: str) -> None:
    grants = bus.grants(principal)
    user = quote(principal.username, safe="")
    where = quote(vhost, safe="")
    management.call("PUT", f"users/{user}", {"password": password, "tags": ""})
    management.call(
        "PUT",
        f"permissions/{where}/{user}",
        {"configure": grants.configure, "write": grants.write, "read": grants.read},
    )
    for exchange, (write, read) in grants.topics.items():
        topic = {"exchange": exchange, "write": write, "read": read}
        management.call("PUT", f"topic-permissions/{where}/{user}", topic)


def remove(management: Management, principal: Principal) -> None:
    try:
        management.call("DELETE", f"users/{quote(principal.username, safe='')}")
    except urllib.error.HTTPError as error:
        if error.code != 404:
            raise


def fresh_password() -> str:
    return secrets.token_urlsafe(24)  # URL-safe: goes into an AMQP URI as it is


def password_variable(name: str) -> str:
    """Where the set-up job finds a principal's password: DMP_BROKER_PASSWORD_<NAME>."""
    return f"DMP_BROKER_PASSWORD_{name.upper().replace('-', '_')}"


def passwords_from_env(
    principals: Iterable[Principal], environ: Mapping[str, str] = os.environ
) -> dict[str, str]:
    """Each principal's password from the environment; every one must be there, or nothing is applied."""
    wanted = {principal.name: password_variable(principal.name) for principal in principals}
    missing = [variable for variable in wanted.values() if not environ.get(variable)]
    if missing:
        raise ConfigurationError(
            f"no password for {len(missing)} principal(s): {', '.join(missing)} not set "
            "(each from its Secret dmp-broker-<name>, key password)"
        )
    return {name: environ[variable] for name, variable in wanted.items()}


def provision(
    amqp_uri: str, extra: tuple[Principal, ...] = (), passwords: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Create (or reset) every principal's user on the broker of `amqp_uri` (the administrator's) and declare
    the topology; return each principal's AMQP URI by name. Each password is `passwords[name]` when given
    (the Kubernetes Secrets' own: the Deployments connect with them), else a fresh one (make run, tests)."""
    everyone = (*bus.principals(user_prefix(amqp_uri)), *extra)
    management = Management.for_broker(amqp_uri)
    if any(
        p.username == management.user for p in everyone
    ):  # resetting it would lock the administrator out
        raise ConfigurationError(
            f"the administrator's user {management.user} is a principal's name"
        )
    if passwords is not None:
        missing = sorted(p.name for p in everyone if not passwords.get(p.name))
        if missing:
            raise ConfigurationError(f"no password given for {', '.join(missing)}")
    vhost = vhost_of(amqp_uri)
    bus.declare_topology(amqp_uri)
    uris = {}
    for principal in everyone:
        password = passwords[principal.name] if passwords is not None else fresh_password()
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
        sys.exit(
            "The RabbitMQ management API does not answer and rabbitmq-plugins is not installed: enable "
            "rabbitmq_management on your broker (or set DMP_RABBITMQ_MANAGEMENT_URL)."
        )
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
            sys.exit(
                f"--events takes SOURCE:TYPE with SOURCE one of {', '.join(bus.EVENT_SOURCES)}; got {item!r}"
            )
        pairs.append((source, event_type))
    if kind_of(name) is not Kind.CLIENT:
        sys.exit(
            f"{name} is a name of the system's own principals; an external service needs another"
        )
    return Principal(name, f"{user_prefix(amqp_uri)}{name}", tuple(pairs))


def named_operator(name: str, amqp_uri: str) -> Principal:
    """operator-NAME: an operator of their own, allowed what `operator` is, and traced by name."""
    if not re.fullmatch(r"[a-z][a-z0-9-]{1,30}", name):
        sys.exit(
            "an operator's name is 2 to 31 lowercase letters, digits or dashes, starting with a letter"
        )
    return Principal(f"operator-{name}", f"{user_prefix(amqp_uri)}operator-{name}")


def held(management: Management, vhost: str, principal: Principal) -> Grants | None:
    """What the broker lets a principal's user do on `vhost` (None: no such user): for an external service,
    the only record of the events it was admitted for."""
    user = quote(principal.username, safe="")
    try:
        management.call("GET", f"users/{user}")
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise
    permissions = [
        p
        for p in as_list(management.call("GET", f"users/{user}/permissions"))
        if p["vhost"] == vhost
    ]
    topics = [
        t
        for t in as_list(management.call("GET", f"users/{user}/topic-permissions"))
        if t["vhost"] == vhost
    ]
    vhost_grants = permissions[0] if permissions else {"configure": "", "write": "", "read": ""}
    return Grants(
        vhost_grants["configure"],
        vhost_grants["write"],
        vhost_grants["read"],
        {t["exchange"]: (t["write"], t["read"]) for t in topics},
    )


def as_list(answer: object) -> list[dict[str, str]]:
    if not isinstance(answer, list):
        raise TypeError(f"the management API answered {type(answer).__name__} where it lists")
    return answer


def dismiss(management: Management, vhost: str, principal: Principal) -> list[str]:
    """An external service leaves the bus: its user goes (RabbitMQ then closes its open connections) and so
    do its durable queues, which would otherwise keep collecting its events; returns the queues deleted."""
    remove(management, principal)
    prefixes = (
        f"{principal.name}.from-",
        bus.reply_queue_prefix(principal.name),
        bus.reply_queue_prefix(principal.username),
    )
    on = quote(vhost, safe="")
    deleted = []
    for queue in as_list(management.call("GET", f"queues/{on}?columns=name")):
        if queue["name"].startswith(prefixes):
            try:
                management.call("DELETE", f"queues/{on}/{quote(queue['name'], safe='')}")
            except urllib.error.HTTPError as error:
                if error.code != 404:  # gone meanwhile (an auto-delete reply queue)
                    raise
            deleted.append(queue["name"])
    return deleted


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    provision_command = commands.add_parser(
        "provision", help="every system principal's user, permissions, topology"
    )
    provision_command.add_argument(
        "--passwords-from-env",
        action="store_true",
        required=True,
        help="each password from DMP_BROKER_PASSWORD_<NAME> (none generated or printed)",
    )
    admit = commands.add_parser(
        "admit", help="admit an external service (prints its AMQP URI once)"
    )
    admit.add_argument("name")
    admit.add_argument("--events", nargs="*", default=[], metavar="SOURCE:TYPE")
    operator = commands.add_parser(
        "admit-operator",
        help="a named operator, operator-NAME (prints its AMQP URI "
        "once); what it runs is traced under that name",
    )
    operator.add_argument("name")
    rotate = commands.add_parser("rotate", help="a new password for one of the system's principals")
    rotate.add_argument("name")
    show = commands.add_parser(
        "show", help="what a principal may do (an external service: as the broker holds it)"
    )
    show.add_argument("name")
    remove_command = commands.add_parser(
        "remove", help="delete an external service's broker user and queues"
    )
    remove_command.add_argument("name")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    amqp_uri = os.environ.get("AMQP_URI", "pyamqp://guest:guest@127.0.0.1:5672/")
    management = Management.for_broker(amqp_uri)
    try:
        run(args, amqp_uri, management)
    except ConfigurationError as error:
        sys.exit(str(error))
    except urllib.error.HTTPError as error:
        sys.exit(
            f"the management API at {management.url} answered {error.code} {error.reason} ({error.url})"
        )
    except OSError as error:  # includes URLError: not reached, refused, TLS
        sys.exit(f"the management API at {management.url} did not answer: {error}")
    except (OperationalError, AMQPError) as error:  # the topology is declared over AMQP
        sys.exit(
            f"the broker at {where(amqp_uri)} refused the administrator or did not answer: {error}"
        )


def run(args: argparse.Namespace, amqp_uri: str, management: Management) -> None:
    own = {p.name: p for p in bus.principals(user_prefix(amqp_uri))}
    vhost = vhost_of(amqp_uri)
    if args.command == "provision":
        provision(amqp_uri, passwords=passwords_from_env(own.values()))
        print(
            f"vhost {vhost}: the topology, and users {', '.join(p.username for p in own.values())} with the "
            "permissions of services/common/bus.py"
        )
        return
    if args.command == "admit":
        if args.name in own:
            sys.exit(f"{args.name} is one of the system's own principals; use rotate")
        principal = external(args.name, args.events, amqp_uri)
    elif args.command == "admit-operator":
        principal = named_operator(args.name, amqp_uri)
    elif args.name in own:
        principal = own[args.name]
    elif args.command in ("show", "remove") and kind_of(args.name) is Kind.CLIENT:
        principal = external(args.name, [], amqp_uri)
    elif args.command in ("show", "remove") and kind_of(args.name) is Kind.OPERATOR:
        principal = Principal(args.name, f"{user_prefix(amqp_uri)}{args.name}")
    else:
        sys.exit(
            f"unknown principal {args.name}; one of {', '.join(own)} (an external service gets a new "
            "password by being admitted again)"
        )
    if (
        principal.username == management.user
    ):  # the prefix can make an external name the administrator's user
        sys.exit(f"{principal.username} is the administrator's user; choose another name")
    if args.command == "show":
        grants = (
            bus.grants(principal) if principal.name in own else held(management, vhost, principal)
        )
        if grants is None:
            sys.exit(f"{args.name} is not admitted: no broker user {principal.username}")
        print(json.dumps(grants.__dict__, indent=2))
        return
    if args.command == "remove":
        if principal.name in own:
            sys.exit(
                f"{args.name} is one of the system's own principals: removing it would cut it off the bus"
            )
        if held(management, vhost, principal) is None:
            sys.exit(f"{args.name} is not admitted: no broker user {principal.username}")
        deleted = dismiss(management, vhost, principal)
        print(f"removed {principal.username} and its queues: {', '.join(deleted) or 'none'}")
        return
    password = fresh_password()
    apply(management, vhost, principal, password)
    print(uri_for(amqp_uri, principal, password))


if __name__ == "__main__":
    main()
