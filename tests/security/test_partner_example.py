"""examples/partner_service.py, a partner's service written from the published contract alone. Against the
system as `make run` starts it (tests/system.py), as an external service admitted with a broker user of its
own (`partner`, tests/security/conftest.py), it finds a public method and an event feed in the contract the
gateway serves, gets the method's signed answer and receives a doctor's deposit as a verified event. Its
verifier, fed messages directly, refuses every one not signed by its sender for what it says."""

import ast
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from examples.partner_service import (
    Contract,
    ContractError,
    Delivered,
    Method,
    Partner,
    RemoteError,
    Untrusted,
    public_keys,
    trusted_event,
    trusted_reply,
)
from services.common.keys import SigningKey
from services.common.signatures import PUBLIC_KEYS, BusKeys, signing_variable
from tests.system import Api, Running, document

EXAMPLE = Path(__file__).parents[2] / "examples" / "partner_service.py"
OWN_LIBRARIES = {
    "kombu",
    "amqp",
    "cryptography",
}  # what a partner installs; the rest is the standard library


@pytest.fixture(scope="module")
def committed() -> dict[str, Any]:
    contract: dict[str, Any] = json.loads(
        resources.files("services.gateway").joinpath("asyncapi.json").read_text()
    )
    return contract


@pytest.fixture(scope="module")
def keys(secrets: dict[str, str]) -> dict[str, Ed25519PublicKey]:
    return public_keys(
        secrets[PUBLIC_KEYS]
    )  # what the operators hand a partner with its broker URI


def signing(secrets: dict[str, str], name: str) -> BusKeys:
    """Signing as `name`, with the key of that principal's process."""
    return BusKeys({name: SigningKey.parse(secrets[signing_variable(name)])}, {})


def test_the_example_uses_none_of_the_dmps_code() -> None:
    tree = ast.parse(EXAMPLE.read_text())
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    foreign = {
        name
        for name in imported
        if name.partition(".")[0] not in {*sys.stdlib_module_names, *OWN_LIBRARIES}
    }
    assert imported and not foreign


# What the partner reads in the contract


def test_the_partner_finds_a_public_method_and_its_arguments_in_the_contract(
    committed: dict[str, Any],
) -> None:
    assert Contract(committed).method("dossier.status") == Method(
        "dossier.status", "nameko-rpc", "dossier.status", ("token", "ins")
    )


def test_the_partner_finds_where_an_event_type_is_published(committed: dict[str, Any]) -> None:
    feed = Contract(committed).events("dossier", "document_added")
    assert (feed.exchange, feed.routing_key) == ("dossier.events", "document_added")
    with pytest.raises(ContractError, match="no event type"):
        Contract(committed).events("dossier", "document_teleported")


def test_the_partner_does_not_call_a_method_closed_to_external_services(
    committed: dict[str, Any],
) -> None:
    with pytest.raises(ContractError, match="not open to external services"):
        Contract(committed).method("consent.grant")


def test_the_partner_refuses_a_contract_whose_signatures_it_does_not_know(
    committed: dict[str, Any],
) -> None:
    changed = json.loads(json.dumps(committed))
    changed["components"]["messageTraits"]["signedReply"]["headers"]["required"].remove(
        "x-dmp-answers"
    )
    with pytest.raises(ContractError, match="signedReply"):
        Contract(changed)


# Against the running system


@pytest.mark.slow
def test_the_partner_gets_a_signed_answer_and_a_deposit_as_a_verified_event(
    system: Running, api: Api, partner: str, keys: dict[str, Ed25519PublicKey]
) -> None:
    ins, patient, doctor = api.dossier_with_consenting_doctor(
        "hopital-saint-exemple@patients.dmp-test.fr"
    )
    token = patient["Authorization"].removeprefix("Bearer ")
    contract = Contract.fetch(system.stack.gateway_url)
    with Partner(partner, "partner", contract, keys) as hospital:
        hospital.subscribe(
            "dossier", "document_added"
        )  # before the deposit: its queue is there to keep it
        status = hospital.call("dossier.status", token=token, ins=ins)
        over_http = system.http.get(f"/api/v1/patients/{ins}/dossier", headers=patient)
        assert over_http.status_code == 200, over_http.text
        assert (status["dossier_id"], status["status"]) == (over_http.json()["dossier_id"], "open")
        with pytest.raises(
            RemoteError
        ) as refusal:  # a refusal is an answer too, signed like any other
            hospital.call("dossier.status", token="not-a-token", ins=ins)
        assert refusal.value.exc_type == "Unauthenticated"

        created = system.http.post(
            f"/api/v1/patients/{ins}/documents", json=document(b"%PDF-1.4 hospital"), headers=doctor
        )
        assert created.status_code == 201, created.text
        deposited = next(
            (
                event
                for event in hospital.events(idle_timeout=20)
                if event.get("document_id") == created.json()["document_id"]
            ),
            None,
        )
    assert deposited is not None, "no verified document_added for the deposit"
    assert (deposited["type"], deposited["source"], deposited["dossier_id"]) == (
        "document_added",
        "dossier",
        status["dossier_id"],
    )


@pytest.mark.slow
def test_the_example_runs_as_a_program(
    system: Running, api: Api, partner: str, secrets: dict[str, str]
) -> None:
    ins, patient = api.patient("portail-saint-exemple@patients.dmp-test.fr")
    assert (
        system.http.post("/api/v1/dossiers", json={"ins": ins}, headers=patient).status_code == 201
    )
    run = subprocess.run(
        [
            sys.executable,
            str(EXAMPLE),
            "--gateway",
            system.stack.gateway_url,
            "--name",
            "partner",
            "--ins",
            ins,
        ],
        env={
            **os.environ,
            "PARTNER_AMQP_URI": partner,
            PUBLIC_KEYS: secrets[PUBLIC_KEYS],
            "PATIENT_ACCESS_TOKEN": patient["Authorization"].removeprefix("Bearer "),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["status"] == "open"


# The verifier, fed messages directly: the broker would stop most of these before the partner sees them,
# the signature stops them even when it does not (a stolen password, a permission too wide, the broker itself).


def genuine_event(secrets: dict[str, str], **changes: str) -> Delivered:
    body = json.dumps(
        {
            "event_id": f"evt_{uuid.uuid4().hex}",
            "type": "document_added",
            "source": "dossier",
            "occurred_at": "2026-11-23T10:00:00Z",
            "document_id": "doc_1",
            **changes,
        }
    ).encode()
    headers = signing(secrets, "dossier").sign("dossier", "dossier.events", "document_added", body)
    return Delivered("dossier.events", "document_added", "", headers, body)


EVENT_FORGERIES: dict[str, tuple[Callable[[dict[str, str], Delivered], Delivered], str]] = {
    "unsigned": (lambda secrets, event: replace(event, headers={}), "unsigned"),
    "altered after signing": (
        lambda secrets, event: replace(event, body=event.body.replace(b"doc_1", b"doc_2")),
        "does not match",
    ),
    "moved to another type": (
        lambda secrets, event: replace(event, routing_key="document_deleted"),
        "does not match",
    ),
    "signed by notify": (
        lambda secrets, event: replace(
            event,
            headers=signing(secrets, "notify").sign(
                "notify", "dossier.events", "document_added", event.body
            ),
        ),
        "signed by notify",
    ),
    "notify's own event claiming to be dossier's": (
        lambda secrets, event: replace(
            event,
            exchange="notify.events",
            headers=signing(secrets, "notify").sign(
                "notify", "notify.events", "document_added", event.body
            ),
        ),
        "does not say it is notify's",
    ),
    "signed with a key nobody published": (
        lambda secrets, event: replace(
            event,
            headers=BusKeys({"dossier": SigningKey.generate("dossier.rogue")}, {}).sign(
                "dossier", "dossier.events", "document_added", event.body
            ),
        ),
        "did not publish",
    ),
}


def test_a_genuine_event_is_trusted(
    secrets: dict[str, str], keys: dict[str, Ed25519PublicKey]
) -> None:
    assert trusted_event(keys, genuine_event(secrets))["document_id"] == "doc_1"


@pytest.mark.parametrize("forgery", EVENT_FORGERIES)
def test_a_forged_event_is_refused(
    secrets: dict[str, str], keys: dict[str, Ed25519PublicKey], forgery: str
) -> None:
    forge, reason = EVENT_FORGERIES[forgery]
    with pytest.raises(Untrusted, match=reason):
        trusted_event(keys, forge(secrets, genuine_event(secrets)))


STATUS = Method("dossier.status", "nameko-rpc", "dossier.status", ("token", "ins"))
CALL = "3f0c1d1e-0000-4000-8000-000000000001"  # the correlation id of the call the partner made
REPLY_TO = "b2a7e3f4-0000-4000-8000-000000000002"  # the routing key of the partner's reply queue


def reply(
    secrets: dict[str, str],
    signer: str = "dossier",
    answers: str = "dossier.status",
    correlation_id: str = CALL,
    result: object = None,
) -> Delivered:
    body = json.dumps({"result": result or {"status": "open"}, "error": None}).encode()
    headers = signing(secrets, signer).sign(
        signer, "nameko-rpc", REPLY_TO, body, correlation_id, answers
    )
    return Delivered("nameko-rpc", REPLY_TO, correlation_id, headers, body)


REPLY_FORGERIES: dict[str, tuple[Callable[[dict[str, str]], Delivered], str]] = {
    "signed by consent": (lambda secrets: reply(secrets, signer="consent"), "signed by consent"),
    "dossier's answer to another method": (
        lambda secrets: reply(secrets, answers="dossier.search"),
        "does not say it answers dossier.status",
    ),
    "relabelled as the method called": (
        lambda secrets: replace(
            reply(secrets, answers="dossier.search"),
            headers={
                **reply(secrets, answers="dossier.search").headers,
                "x-dmp-answers": "dossier.status",
            },
        ),
        "does not match",
    ),
    "an answer to another call": (
        lambda secrets: reply(secrets, correlation_id=str(uuid.uuid4())),
        "another call",
    ),
    "the result changed after signing": (
        lambda secrets: replace(
            reply(secrets), body=reply(secrets).body.replace(b"open", b"closed")
        ),
        "does not match",
    ),
}


def test_a_genuine_reply_is_trusted(
    secrets: dict[str, str], keys: dict[str, Ed25519PublicKey]
) -> None:
    assert trusted_reply(keys, reply(secrets), STATUS, CALL) == {"status": "open"}


@pytest.mark.parametrize("forgery", REPLY_FORGERIES)
def test_a_forged_reply_is_refused(
    secrets: dict[str, str], keys: dict[str, Ed25519PublicKey], forgery: str
) -> None:
    forge, reason = REPLY_FORGERIES[forgery]
    with pytest.raises(Untrusted, match=reason):
        trusted_reply(keys, forge(secrets), STATUS, CALL)
