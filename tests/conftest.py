"""Fixtures shared by the whole suite. Everything here is real: RabbitMQ (a virtual host per test
through nameko's fixtures), the embedded Mongo-wire server on a free port, an SMTP server."""

import eventlet

eventlet.monkey_patch()  # before anything else imports socket or threading: nameko needs it

import base64  # noqa: E402
import gc  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from datetime import date, datetime, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402
from pymongo import MongoClient  # noqa: E402
from pymongo.database import Database  # noqa: E402

from deploy.local.processes import free_port, port_answers, wait_for  # noqa: E402
from services.common.clock import utcnow  # noqa: E402
from services.common.devsecrets import SIGNERS, bus_keys  # noqa: E402
from services.common.keys import SigningKey  # noqa: E402
from services.common.signatures import PUBLIC_KEYS, SIGNING_KEY, signing_variable  # noqa: E402
from tests.identities import make_rpps, registration  # noqa: E402
from tests.journeys import Deposit, submission  # noqa: E402
from tests.mailbox import Mailbox, SmsInbox  # noqa: E402

# The whole system as `make run` starts it, once for the run (`system`, `api`), for every folder that uses it.
pytest_plugins = ("tests.system",)


# The fast tier (`make fast`, marker `fast`): every test that needs none of these real parts, found from
# the fixtures it uses, so that a new test lands in the right tier without anyone marking it.
REAL_PARTS = frozenset(
    {
        "mongo_uri",
        "smtp_server",
        "sms_gateway",
        "environment",
        "rabbit_config",
        "rabbit_manager",
        "system",
        "api",
        "browser",
        "page",
    }
)


# The tests make millions of short-lived objects (hypothesis's draws, FastAPI's routes of each app) over a large
# heap of long-lived ones (every module imported): at the default thresholds the collector's passes over that
# heap took a sixth of the fast tier. Young objects are collected less often, and what exists once collection is
# done (modules, test functions) is left out of every later pass.
gc.set_threshold(10_000, 10, 10)


def pytest_collection_finish(session: pytest.Session) -> None:
    gc.collect()
    gc.freeze()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        needs = set(getattr(item, "fixturenames", ()))
        # `store` marks a test (or one parameter of it) that runs on the real store, whatever fixture it reaches
        # it through (a contract test asks for its store with request.getfixturevalue); `real`, one that
        # reaches a real part by itself (a broker's management API, a store server of its own).
        real = any(item.get_closest_marker(name) for name in ("slow", "store", "real"))
        if not needs & REAL_PARTS and not real:
            item.add_marker(pytest.mark.fast)
    # The fast tier first: it fails soonest, and it runs before the browser's session-long event loop exists
    # (Playwright's, in this thread under eventlet, after which no test can start an asyncio loop of its own).
    items.sort(key=lambda item: item.get_closest_marker("fast") is None)


TEST_SERVICES = (
    "outages",
    "echo",
    "caller",
)  # nameko services some tests define, which sign their answers


@pytest.fixture(scope="session")
def secrets() -> Iterator[dict[str, str]]:
    key, audit = SigningKey.generate("test"), SigningKey.generate("audit-test")
    values = {
        "DMP_TOKEN_SIGNING_KEY": key.serialise(),
        "DMP_TOKEN_PUBLIC_KEYS": key.public(),
        "DMP_MASTER_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "DMP_LOGIN_CODE_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "DMP_IDENTITY_MESSAGE_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "DMP_AUDIT_SIGNING_KEY": audit.serialise(),
        "DMP_AUDIT_PUBLIC_KEYS": audit.public(),
        "DMP_DEV_LOGIN": "true",
        **bus_keys((*SIGNERS, *TEST_SERVICES)),
    }
    # The test process calls the services it starts and verifies their signed answers with these keys.
    with pytest.MonkeyPatch.context() as session:
        session.setenv(PUBLIC_KEYS, values[PUBLIC_KEYS])
        yield values


@contextmanager
def local_server(module: str, folder: Path, *args: str) -> Iterator[int]:
    """Run one of deploy/local's servers (its data in `folder`) in its own process on a free port."""
    port = free_port()
    log = (folder.parent / f"{folder.name}.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", module, *args, "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(module, lambda: port_answers("127.0.0.1", port), 30, every=0.05)
        yield port
    finally:
        server.terminate()
        server.wait(10)


@pytest.fixture(scope="session")
def mongo_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the embedded server keeps its files (tests of encryption at rest read them)."""
    return tmp_path_factory.mktemp("mongo")


# `make test-store MONGO_URI=...`: the stores' contract tests against another server (a MongoDB replica set an
# operator wants to prove the adapter on) instead of the embedded one.
OTHER_STORE = "DMP_TEST_MONGO_URI"


@pytest.fixture(scope="session")
def mongo_uri(mongo_data: Path) -> Iterator[str]:
    """The embedded Mongo-wire server, started once per session on a free port (or the one named by
    DMP_TEST_MONGO_URI: every test keeps to databases of its own prefix there)."""
    if os.environ.get(OTHER_STORE):
        yield os.environ[OTHER_STORE]
        return
    with local_server("deploy.local.devstore", mongo_data, "--data-dir", str(mongo_data)) as port:
        yield f"mongodb://127.0.0.1:{port}/"


@pytest.fixture(scope="session")
def smtp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mailbox]:
    """A real SMTP server (aiosmtpd) in its own process; the tests read what it received."""
    folder = tmp_path_factory.mktemp("mail")
    with local_server("deploy.local.mailbox", folder, "serve", "--dir", str(folder)) as port:
        yield Mailbox(folder, port)


@pytest.fixture(scope="session")
def sms_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmsInbox]:
    """A real HTTP SMS gateway with Kannel's sendsms interface, in its own process."""
    folder = tmp_path_factory.mktemp("sms")
    with local_server("deploy.local.smsbox", folder, "serve", "--dir", str(folder)) as port:
        yield SmsInbox(folder, f"http://127.0.0.1:{port}/cgi-bin/sendsms")


@pytest.fixture
def environment(
    monkeypatch: pytest.MonkeyPatch,
    secrets: dict[str, str],
    mongo_uri: str,
    smtp_server: Mailbox,
    sms_gateway: SmsInbox,
    tmp_path: Path,
) -> dict[str, str]:
    """The environment a service reads, with a database prefix of its own for each test."""
    values = {
        **secrets,
        "MONGO_URI": mongo_uri,
        "DMP_MONGO_DATABASE_PREFIX": f"t{uuid.uuid4().hex[:12]}",
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_server.port),
        "SMS_GATEWAY_URL": sms_gateway.url,
        "DMP_OUTBOX_INTERVAL_SECONDS": "0.2",
        "DMP_NOTIFY_JOURNAL_DIR": str(tmp_path / "notify"),
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return values


def service_database(environment: dict[str, str], service: str) -> "Database[dict[str, Any]]":
    """A service's own database, for tests that check what was (not) stored."""
    client: MongoClient[dict[str, Any]] = MongoClient(environment["MONGO_URI"], tz_aware=True)
    return client[f"{environment['DMP_MONGO_DATABASE_PREFIX']}_{service}"]


class FakeClock:
    """Replaces a service's Clock so that a test can travel in time."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return utcnow() + self.offset

    def advance(self, by: timedelta) -> None:
        self.offset += by


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def rabbit_config(
    rabbit_config: None, rabbit_uri: str, monkeypatch: pytest.MonkeyPatch, secrets: dict[str, str]
) -> None:
    """nameko's fresh virtual host, with the exchanges, queues and bindings the set-up declares before any
    service starts (services/common/bus.py). The services run in-process there, on one broker user: a
    development set-up (DMP_DEV_LOGIN), which a service refuses otherwise; tests/security/test_bus.py runs
    them as `make run` does, each on its own user. Being every service, this process signs as each of them
    (services/common/signatures.py)."""
    from services.common.bus import declare_topology

    monkeypatch.setenv("DMP_DEV_LOGIN", "true")
    monkeypatch.setenv(
        SIGNING_KEY,
        ",".join(secrets[signing_variable(name)] for name in (*SIGNERS, *TEST_SERVICES)),
    )
    declare_topology(rabbit_uri)


@pytest.fixture
def services_runner(
    environment: dict[str, str], rabbit_config: None, runner_factory: Any, clock: FakeClock
) -> Any:
    """All five services running in-process (nameko's runner) on a fresh virtual host. The dossier,
    consent and notify services read the test's `clock`."""
    from nameko.testing.services import replace_dependencies
    from nameko.testing.utils import get_container

    from services.audit.service import AuditService
    from services.consent.service import ConsentService
    from services.dossier.service import DossierService
    from services.identity.service import IdentityService
    from services.notify.service import NotifyService

    runner = runner_factory(
        IdentityService, ConsentService, DossierService, NotifyService, AuditService
    )
    for service in (DossierService, ConsentService, NotifyService):
        replace_dependencies(get_container(runner, service), clock=clock)
    runner.start()
    return runner


@pytest.fixture
def restart_settings(services_runner: Any) -> Callable[[], None]:
    """What restarting the services with the environment as changed since gives them: their settings read
    again (a process reads them once, when it starts)."""
    from services.common.settings import Settings
    from services.common.settings_provider import SETTINGS_ATTRIBUTE

    def restart() -> None:
        for container in services_runner.containers:
            setattr(container, SETTINGS_ATTRIBUTE, Settings.load())

    return restart


@pytest.fixture
def cluster(services_runner: Any) -> Iterator[Any]:
    """An RPC client to the running services."""
    from nameko import config

    from services.common.rpc_client import RpcClient
    from services.common.settings import Settings

    with RpcClient(uri=config["AMQP_URI"], timeout=30, keys=Settings.load().bus_keys) as client:
        yield client


@pytest.fixture
def people(cluster: Any) -> "People":
    return People(cluster)


class People:
    """Registers actors through identity and hands out their tokens."""

    def __init__(self, cluster: Any) -> None:
        self.cluster = cluster

    def patient(self, email: str | None = None, born: date = date(1980, 1, 15)) -> tuple[str, str]:
        """(ins, token) of a newly registered patient."""
        details = registration(born=born, email=email)
        self.cluster.identity.register_patient(details)
        ins = details["ins"]
        token = self.cluster.identity.issue_dev_token({"kind": "patient", "ins": ins})[
            "access_token"
        ]
        return ins, token

    def professional_with_roles(self, profession: str, roles: list[str]) -> str:
        """The RPPS of a newly registered professional with roles (e.g. samu_regulator)."""
        rpps = make_rpps()
        self.cluster.identity.register_professional(
            {
                "rpps": rpps,
                "profession": profession,
                "given_name": "Sam",
                "family_name": "Roux",
                "roles": roles,
            }
        )
        return rpps

    def professional(self, profession: str = "10") -> tuple[str, str]:
        """(rpps, token) of a newly registered professional."""
        rpps = make_rpps()
        self.cluster.identity.register_professional(
            {"rpps": rpps, "profession": profession, "given_name": "Alex", "family_name": "Durand"}
        )
        token = self.cluster.identity.issue_dev_token({"kind": "professional", "rpps": rpps})[
            "access_token"
        ]
        return rpps, token


@pytest.fixture
def deposit(cluster: Any, people: People) -> Deposit:
    """An open dossier, a doctor with the patient's consent, and one document the doctor added."""
    ins, patient = people.patient()
    cluster.dossier.open(patient, {"ins": ins})
    rpps, doctor = people.professional()
    cluster.consent.record_consent(doctor, ins)
    document = cluster.dossier.add_document(doctor, ins, submission())
    return Deposit(ins, patient, rpps, doctor, document["document_id"])
