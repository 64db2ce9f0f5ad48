"""The operators' broker commands (services/common/broker_admin.py) against the real broker, on a virtual host
of their own: the Kubernetes set-up job's `provision --passwords-from-env`, and admitting, showing and
removing an external service."""

import json
import urllib.error
import uuid
from collections.abc import Iterator

import amqp.exceptions
import pytest
from kombu.connection import Connection
from kombu.entity import Exchange, Queue

from services.common import bus
from services.common.broker_admin import (
    Management,
    deprovision,
    held,
    main,
    password_variable,
    provision,
    remove,
    uri_for,
)
from services.common.bus import Principal
from services.common.errors import ConfigurationError
from services.common.principals import user_prefix

pytestmark = pytest.mark.real  # the broker, through its management API and AMQP

REFUSED = (amqp.exceptions.AccessRefused, amqp.exceptions.NotAllowed)


@pytest.fixture
def admin(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The administrator's AMQP URI on a fresh virtual host (the commands read it from AMQP_URI); the vhost and
    every user made on it are deleted afterwards."""
    vhost = f"k8s-{uuid.uuid4().hex[:10]}"
    uri = f"pyamqp://guest:guest@127.0.0.1:5672/{vhost}"
    management = Management.for_broker(uri)
    management.call("PUT", f"vhosts/{vhost}", {})
    management.call(
        "PUT", f"permissions/{vhost}/guest", {"configure": ".*", "write": ".*", "read": ".*"}
    )
    monkeypatch.setenv("AMQP_URI", uri)
    yield uri
    deprovision(uri, (partner(uri), Principal("admin", f"{user_prefix(uri)}admin")))
    management.call("DELETE", f"vhosts/{vhost}")


def partner(admin: str) -> Principal:
    return Principal("partner", f"{user_prefix(admin)}partner", (("dossier", "document_added"),))


def own(admin: str) -> list[Principal]:
    return bus.principals(user_prefix(admin))


def connects(uri: str) -> bool:
    try:
        with Connection(uri) as connection:  # type: ignore[no-untyped-call]
            connection.connect()
        return True
    except REFUSED:
        return False


def exits(argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    return str(exited.value.code)


def test_provision_applies_the_passwords_of_the_environment_and_prints_none(
    admin: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    passwords = {p.name: uuid.uuid4().hex for p in own(admin)}
    for name, password in passwords.items():
        monkeypatch.setenv(password_variable(name), password)
    main(["provision", "--passwords-from-env"])
    printed = capsys.readouterr().out
    management, vhost = Management.for_broker(admin), admin.rsplit("/", 1)[1]
    for principal in own(admin):
        assert connects(uri_for(admin, principal, passwords[principal.name])), principal.name
        assert held(management, vhost, principal) == bus.grants(principal), principal.name
        assert passwords[principal.name] not in printed, "a Job's output is kept in its logs"
    assert not connects(uri_for(admin, own(admin)[0], "not-the-password"))


def test_provision_names_every_missing_password_and_applies_nothing(
    admin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for principal in own(admin):
        if principal.name not in {"gateway", "operator"}:
            monkeypatch.setenv(password_variable(principal.name), uuid.uuid4().hex)
    message = exits(["provision", "--passwords-from-env"])
    assert "DMP_BROKER_PASSWORD_GATEWAY" in message and "DMP_BROKER_PASSWORD_OPERATOR" in message
    assert "DMP_BROKER_PASSWORD_AUDIT" not in message
    management, vhost = Management.for_broker(admin), admin.rsplit("/", 1)[1]
    assert all(held(management, vhost, principal) is None for principal in own(admin))


def test_the_python_api_generates_passwords_unless_given(admin: str) -> None:
    generated = provision(admin)
    assert connects(generated["audit"]) and generated["audit"] != provision(admin)["audit"]
    given = {p.name: f"given-{p.name}-{uuid.uuid4().hex}" for p in own(admin)}
    uris = provision(admin, passwords=given)
    assert uris == {p.name: uri_for(admin, p, given[p.name]) for p in own(admin)}
    assert connects(uris["audit"]) and not connects(generated["audit"])
    with pytest.raises(Exception, match="no password given for operator"):
        provision(admin, passwords={k: v for k, v in given.items() if k != "operator"})


def test_show_reads_what_the_broker_holds_for_an_external_service(
    admin: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "not admitted" in exits(["show", "partner"])
    main(["admit", "partner", "--events", "dossier:document_added"])
    capsys.readouterr()
    main(["show", "partner"])
    shown = json.loads(capsys.readouterr().out)
    expected = bus.grants(partner(admin))
    assert shown["read"] == expected.read
    assert {exchange: tuple(keys) for exchange, keys in shown["topics"].items()} == expected.topics


def test_remove_cuts_an_external_service_off_and_deletes_its_queues(
    admin: str, capsys: pytest.CaptureFixture[str]
) -> None:
    bus.declare_topology(admin)
    main(["admit", "partner", "--events", "dossier:document_added"])
    uri = capsys.readouterr().out.strip()
    dossier_events = Exchange("dossier.events", type="topic", durable=True, passive=True)  # type: ignore[no-untyped-call]
    with Connection(uri) as connection:  # type: ignore[no-untyped-call]
        queue = Queue(
            "partner.from-dossier",
            exchange=dossier_events,  # type: ignore[no-untyped-call]
            routing_key="document_added",
            durable=True,
        )
        queue(connection.default_channel).declare()  # type: ignore[no-untyped-call]
        main(["remove", "partner"])
        assert "partner.from-dossier" in capsys.readouterr().out
        with pytest.raises(
            amqp.exceptions.ConnectionForced
        ):  # an open connection does not outlive its user
            connection.drain_events(timeout=5)
    assert not connects(uri)
    management, vhost = Management.for_broker(admin), admin.rsplit("/", 1)[1]
    assert held(management, vhost, partner(admin)) is None
    with pytest.raises(urllib.error.HTTPError, match="404"):
        management.call("GET", f"queues/{vhost}/partner.from-dossier")
    management.call("GET", f"queues/{vhost}/audit.from-dossier")  # the system's own queues stay


def test_remove_refuses_the_systems_own_principals_and_unknown_names(admin: str) -> None:
    uris = provision(admin)
    assert "own principals" in exits(["remove", "audit"])
    assert connects(uris["audit"])
    assert "not admitted" in exits(["remove", "nobody"])


def test_no_command_resets_the_administrators_own_user(
    admin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Users are `<prefix><name>`: an administrator named like that must not be re-admitted as a client."""
    management, vhost = Management.for_broker(admin), admin.rsplit("/", 1)[1]
    administrator = Principal("admin", f"{user_prefix(admin)}admin")
    management.call(
        "PUT", f"users/{administrator.username}", {"password": "admin-pw", "tags": "administrator"}
    )
    management.call(
        "PUT",
        f"permissions/{vhost}/{administrator.username}",
        {"configure": ".*", "write": ".*", "read": ".*"},
    )
    monkeypatch.setenv("AMQP_URI", uri_for(admin, administrator, "admin-pw"))
    assert "administrator's user" in exits(["admit", "admin"])
    assert "administrator's user" in exits(["remove", "admin"])
    with pytest.raises(ConfigurationError, match="administrator's user"):
        provision(uri_for(admin, administrator, "admin-pw"), (administrator,))
    user = management.call("GET", f"users/{administrator.username}")
    assert isinstance(user, dict) and "administrator" in str(user["tags"])
    remove(management, administrator)
