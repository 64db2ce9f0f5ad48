"""The whole system started as `make run` starts it (deploy/local/stack.py), in child processes, on its own
virtual host and database, exporting its spans to a local OTLP receiver: once for the whole run, shared by
the end-to-end and security tests (each works on patients of its own). Starting it is the costliest step
of the suite; the fault tests, which kill its parts, start their own."""

import base64
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from deploy.local.processes import free_port
from deploy.local.stack import Stack
from tests.identities import Card, make_rpps, registration
from tests.mailbox import LOGIN_CODE, Mailbox
from tests.otlp import Collector, serve


@dataclass
class Running:
    stack: Stack
    http: httpx.Client
    collector: Collector
    mailbox: Mailbox
    logs: Path


@pytest.fixture(scope="session")
def system(
    vhost_pipeline: Any,
    secrets: dict[str, str],
    mongo_uri: str,
    smtp_server: Mailbox,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Running]:
    collector = Collector()
    otlp, otlp_port = serve(collector)
    var = tmp_path_factory.mktemp("stack")
    with vhost_pipeline.get() as vhost:
        env = {
            **secrets,
            "AMQP_URI": f"pyamqp://guest:guest@127.0.0.1:5672/{vhost}",
            "MONGO_URI": mongo_uri,
            "DMP_MONGO_DATABASE_PREFIX": f"e{uuid.uuid4().hex[:12]}",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(smtp_server.port),
            "DMP_GATEWAY_PORT": str(free_port()),
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{otlp_port}",
            "DMP_OUTBOX_INTERVAL_SECONDS": "0.2",
            "DMP_RATE_PER_ACTOR_PER_MINUTE": "10000000",  # the API fuzzing run is not an abuser
            # every test logs in from 127.0.0.1: hundreds of logins in 15 minutes, as a hospital's NAT address
            "DMP_LOGIN_RATE_PER_ADDRESS": "100000",
        }
        stack = Stack(var=var, env=env)
        try:
            stack.start()
            with httpx.Client(base_url=stack.gateway_url, timeout=30) as http:
                yield Running(stack, http, collector, smtp_server, var / "log")
        finally:
            stack.stop()
            otlp.shutdown()


class Api:
    """The journey's HTTP calls, as a vendor's software (or a patient's browser) would make them.
    Enrolment is still the development one; logins are the real ones."""

    def __init__(self, http: httpx.Client, mailbox: Mailbox) -> None:
        self.http = http
        self.mailbox = mailbox

    def patient(self, email: str) -> tuple[str, dict[str, str]]:
        """A registered patient, logged in with a one-time code: (ins, Authorization headers)."""
        ins = self.register_patient(email)
        return ins, {"Authorization": f"Bearer {self.session(ins, email)['access_token']}"}

    def register_patient(self, email: str) -> str:
        details = registration(email=email)
        registered = self.http.post("/api/v1/patients", json=details)
        assert registered.status_code == 201, registered.text
        return details["ins"]

    def session(self, ins: str, email: str) -> dict[str, Any]:
        """Log in with the code mailed to the patient; the whole answer (access and refresh token)."""
        already = len(self.mailbox.messages(email, LOGIN_CODE))
        sent = self.http.post("/api/v1/login/patient/code", json={"ins": ins, "channel": "email"})
        assert sent.status_code == 202, sent.text
        mail = self.mailbox.wait_for(email, already + 1, LOGIN_CODE)[-1]
        code = re.search(r"\b(\d{6})\b", mail.get_content())
        assert code is not None
        response = self.http.post(
            "/api/v1/login/patient/token", json={"ins": ins, "code": code.group(1)}
        )
        assert response.status_code == 200, response.text
        session: dict[str, Any] = response.json()
        return session

    def professional(self, profession: str = "10") -> tuple[str, dict[str, str]]:
        rpps, card = make_rpps(), Card()
        registered = self.http.post(
            "/api/v1/professionals",
            json={
                "rpps": rpps,
                "profession": profession,
                "given_name": "Alex",
                "family_name": "Durand",
                "card_public_key": card.public_pem,
            },
        )
        assert registered.status_code == 201, registered.text
        return rpps, self.login_with_card(rpps, card)

    def login_with_card(self, rpps: str, card: Card) -> dict[str, str]:
        challenge = self.http.post(
            "/api/v1/login/card/challenge", json={"actor_id": f"rpps:{rpps}"}
        )
        assert challenge.status_code == 200, challenge.text
        nonce = challenge.json()["nonce"]
        response = self.http.post(
            "/api/v1/login/card/token",
            json={"actor_id": f"rpps:{rpps}", "nonce": nonce, "signature": card.sign(nonce)},
        )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def dossier_with_consenting_doctor(
        self, email: str
    ) -> tuple[str, dict[str, str], dict[str, str]]:
        """(ins, patient headers, doctor headers) once the dossier is open and consent recorded."""
        ins, patient = self.patient(email)
        _, doctor = self.professional("10")
        assert (
            self.http.post("/api/v1/dossiers", json={"ins": ins}, headers=patient).status_code
            == 201
        )
        assert self.http.post(f"/api/v1/patients/{ins}/consents", headers=doctor).status_code == 201
        return ins, patient, doctor

    def token(self, request: dict[str, str]) -> dict[str, str]:
        response = self.http.post("/api/v1/dev/tokens", json=request)
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
def api(system: Running) -> Api:
    return Api(system.http, system.mailbox)


def document(raw: bytes, **overrides: Any) -> dict[str, Any]:
    return {
        "category": "10",
        "type_code": "11488-4",
        "title": "Consultation du 20/11",
        "care_date": "2026-11-20",
        "format": "application/pdf",
        "content": base64.b64encode(raw).decode(),
        **overrides,
    }
