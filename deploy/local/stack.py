"""`make run`: start the whole system on this machine and say where to go.

Starts, unless told otherwise by the environment: the embedded Mongo-wire server (MONGO_URI unset),
a local mailbox that writes mails to var/mail (SMTP_HOST unset), a local SMS gateway writing texts to
var/sms (SMS_GATEWAY_URL unset), a local OpenID Connect provider for the professionals' web login,
trusted by identity (DMP_TRUSTED_ISSUERS unset; deploy/local/oidc.py), RabbitMQ if it is installed and
stopped, every service and the gateway. Ctrl-C stops what it started, and nothing else.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from deploy.local.processes import (
    SERVICES,
    Processes,
    base_env,
    ensure_rabbitmq,
    free_port,
    http_ok,
    port_answers,
    services_answer,
    wait_for,
)
from services.common.broker_admin import deprovision, ensure_management, provision
from services.common.signatures import PUBLIC_KEYS, BusKeys, bus_keys, own_signing_key

ROOT = Path(__file__).resolve().parents[2]
LOCAL_CLIENT_ID = "dmp-local"  # the gateway's client id at the local OpenID Connect provider
OVERRIDABLE = (
    "DMP_TOKEN_SIGNING_KEY",
    "DMP_TOKEN_PUBLIC_KEYS",
    "DMP_MASTER_KEY",
    "DMP_LOGIN_CODE_KEY",
    "DMP_IDENTITY_MESSAGE_KEY",
    "DMP_AUDIT_SIGNING_KEY",
    "DMP_AUDIT_PUBLIC_KEYS",
    "MONGO_URI",
    "SMTP_HOST",
    "SMTP_PORT",
    "SMS_GATEWAY_URL",
    "AMQP_URI",
    "DMP_GATEWAY_PORT",
    "DMP_TRUSTED_ISSUERS",
)
# Not the bus keys: they go as a set (every signer's key and every public key), from the caller or from
# var/dev.env, never half from the environment (public keys exported by a test run or an operator's shell)


def dev_secrets(var: Path) -> dict[str, str]:
    """Secrets for this machine, made once and kept in var/dev.env (never committed). A secret added
    by a later version is generated and appended; existing ones are kept."""
    path = var / "dev.env"
    existing = dict(_pairs(path.read_text())) if path.exists() else {}
    fresh = dict(
        _pairs(
            subprocess.run(
                [sys.executable, "-m", "services.common.devsecrets"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
    )
    if not existing or set(fresh) - set(existing):
        existing = {**fresh, **existing}
        var.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{key}={value}\n" for key, value in existing.items()))
        path.chmod(0o600)
    return existing


def _pairs(text: str) -> list[tuple[str, str]]:
    return [
        (key, value)
        for key, _, value in (line.partition("=") for line in text.splitlines())
        if value
    ]


@dataclass
class Stack:
    var: Path
    env: dict[str, str] = field(default_factory=dict)
    processes: Processes = field(init=False)
    started_rabbitmq: bool = False
    principal_uris: dict[str, str] = field(
        default_factory=dict
    )  # each principal's AMQP URI, by name
    oidc_url: str | None = None  # the local OpenID Connect provider, when this stack started it
    # every principal's public key on the bus (DMP_BUS_PUBLIC_KEYS), once started
    public_keys: str = ""

    def __post_init__(self) -> None:
        self.processes = Processes(self.var / "log")

    @property
    def operator_uri(self) -> str:
        """The operators' broker user: for the commands, checks and benchmarks that call services."""
        return self.principal_uris["operator"]

    def bus_keys(self) -> BusKeys:
        """The keys this process calls the stack's services with: theirs, to verify the answers (it signs
        as nobody, like an operator's command)."""
        return bus_keys("", self.public_keys)

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.env['DMP_GATEWAY_PORT']}"

    def start(self) -> None:
        # Precedence: what the caller passed (tests, bench), then the environment, then var/dev.env.
        from_environment = {key: os.environ[key] for key in OVERRIDABLE if key in os.environ}
        env = {**dev_secrets(self.var), **from_environment, **self.env}
        env.setdefault("AMQP_URI", "pyamqp://guest:guest@127.0.0.1:5672/")
        env.setdefault("DMP_DEV_LOGIN", "true")
        env.setdefault("DMP_NOTIFY_JOURNAL_DIR", str(self.var / "notify"))
        env.setdefault("DMP_GATEWAY_PORT", str(free_port()))
        env.setdefault("DMP_PATIENT_PORTAL_URL", f"http://127.0.0.1:{env['DMP_GATEWAY_PORT']}")
        self.env = env
        self.started_rabbitmq = ensure_rabbitmq(env["AMQP_URI"])
        child_env = base_env(env)

        if "MONGO_URI" not in env:
            port = free_port()
            self.processes.start(
                "devstore",
                [
                    "-m",
                    "deploy.local.devstore",
                    "--port",
                    str(port),
                    "--data-dir",
                    str(self.var / "mongo"),
                ],
                child_env,
            )
            wait_for("the embedded Mongo-wire server", lambda: port_answers("127.0.0.1", port), 30)
            env["MONGO_URI"] = child_env["MONGO_URI"] = f"mongodb://127.0.0.1:{port}/"
        if "SMTP_HOST" not in env:
            port = free_port()
            self.processes.start(
                "mailbox",
                [
                    "-m",
                    "deploy.local.mailbox",
                    "serve",
                    "--port",
                    str(port),
                    "--dir",
                    str(self.var / "mail"),
                ],
                child_env,
            )
            wait_for("the local mailbox", lambda: port_answers("127.0.0.1", port), 30)
            env["SMTP_HOST"], env["SMTP_PORT"] = "127.0.0.1", str(port)
            child_env.update(SMTP_HOST="127.0.0.1", SMTP_PORT=str(port))

        if "SMS_GATEWAY_URL" not in env:
            port = free_port()
            self.processes.start(
                "smsbox",
                [
                    "-m",
                    "deploy.local.smsbox",
                    "serve",
                    "--port",
                    str(port),
                    "--dir",
                    str(self.var / "sms"),
                ],
                child_env,
            )
            wait_for("the local SMS gateway", lambda: port_answers("127.0.0.1", port), 30)
            env["SMS_GATEWAY_URL"] = child_env["SMS_GATEWAY_URL"] = (
                f"http://127.0.0.1:{port}/cgi-bin/sendsms"
            )

        if "DMP_TRUSTED_ISSUERS" not in env:
            port = free_port()
            self.processes.start(
                "oidc",
                [
                    "-m",
                    "deploy.local.oidc",
                    "serve",
                    "--port",
                    str(port),
                    "--client-id",
                    LOCAL_CLIENT_ID,
                    "--directory",
                    str(self.var / "oidc" / "directory.json"),
                ],
                child_env,
            )
            wait_for(
                "the local OpenID Connect provider", lambda: port_answers("127.0.0.1", port), 30
            )
            issuer = f"http://127.0.0.1:{port}"
            env["DMP_TRUSTED_ISSUERS"] = child_env["DMP_TRUSTED_ISSUERS"] = json.dumps(
                [
                    {
                        "issuer": issuer,
                        "jwks_url": f"{issuer}/jwks",
                        "audience": LOCAL_CLIENT_ID,
                        "rpps_claim": "SubjectNameID",
                    }
                ]
            )
            self.oidc_url = issuer

        # Each process connects as its own broker user, allowed only what it needs (services/common/bus.py).
        ensure_management(env["AMQP_URI"])
        self.principal_uris = provision(env["AMQP_URI"])
        # ... and signs with its own key (services/common/signatures.py); this process, which calls them
        # (tests, benchmarks), verifies their answers with their public keys.
        os.environ[PUBLIC_KEYS] = self.public_keys = env[PUBLIC_KEYS]
        for name in SERVICES:
            self.processes.start(
                name,
                ["-m", "services.common.launcher", name],
                {**own_signing_key(child_env, name), "AMQP_URI": self.principal_uris[name]},
            )
        self.processes.start(
            "gateway",
            ["-m", "services.gateway.main"],
            {**own_signing_key(child_env, "gateway"), "AMQP_URI": self.principal_uris["gateway"]},
        )

        def ready() -> bool:
            self.processes.check_alive()
            return http_ok(f"{self.gateway_url}/health") and services_answer(
                self.operator_uri, self.bus_keys
            )

        wait_for("the services and the gateway", ready, 120)
        # What the operators' commands need against this stack: the operator's broker user (made afresh
        # at each start) and the keys that verify the services' answers.
        operator_env = self.var / "operator.env"
        operator_env.write_text(f"AMQP_URI={self.operator_uri}\n{PUBLIC_KEYS}={env[PUBLIC_KEYS]}\n")
        operator_env.chmod(0o600)

    def stop(self) -> None:
        self.processes.stop()
        if self.principal_uris:
            deprovision(self.env["AMQP_URI"])
        if self.started_rabbitmq:
            subprocess.run(["rabbitmqctl", "shutdown"], check=False)  # noqa: S607


def main() -> None:
    stack = Stack(var=ROOT / "var")

    def interrupted(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    # Explicit handlers: a shell that starts us in the background would otherwise ignore SIGINT.
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)
    try:
        print(
            "Starting the DMP: store, mailbox, OpenID Connect provider, identity, consent, dossier, notify, audit, "
            "gateway...",
            flush=True,
        )
        stack.start()
        url = stack.gateway_url
        print(
            f"""
The DMP is running.
  Patients:  {url}/patient/   (log in with a one-time code: it lands in Mails or SMS below)
  Professionals: {url}/pro/   (log in through {stack.oidc_url or "the issuer of DMP_TRUSTED_ISSUERS"}; enrol
             yourself first: README, "Professional pages")
  Gateway:   {url}
  API docs:  {url}/api/v1/docs
  Mails:     {stack.var / "mail" if "SMTP_HOST" not in os.environ else os.environ["SMTP_HOST"]}
  SMS:       {stack.var / "sms" if "SMS_GATEWAY_URL" not in os.environ else os.environ["SMS_GATEWAY_URL"]}
  Logs:      {stack.var / "log"}
  Operators: set -a; . {stack.var / "operator.env"}; set +a   (then e.g. python -m services.audit.verify)
Press Ctrl-C to stop.""",
            flush=True,
        )
        while True:
            stack.processes.check_alive()
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nStopping...", flush=True)
    except (RuntimeError, TimeoutError) as error:
        print(f"\n{error}", file=sys.stderr, flush=True)
        stack.stop()
        sys.exit(1)
    stack.stop()
    print("Stopped.")


if __name__ == "__main__":
    main()
