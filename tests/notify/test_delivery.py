"""Notification delivery: preferences, digests, retries with backoff, dead letters, and nothing lost
or sent twice when SMTP is down or notify dies."""

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from nameko.testing.services import replace_dependencies
from nameko.testing.utils import get_container

from services.notify import mailer
from services.notify.service import NotifyService
from services.notify.store import NotifyStore
from tests.conftest import FakeClock, People, service_database
from tests.identities import registration
from tests.journeys import eventually, submission
from tests.mailbox import ACCESS_NEWS, DOSSIER_NEWS, Mailbox, SmsInbox
from tests.proxy import TcpProxy


def patient_with_doctor(
    cluster: Any, people: People, email: str, mobile: str | None = None
) -> tuple[str, str, str]:
    details = {**registration(email=email), **({"mobile": mobile} if mobile else {})}
    cluster.identity.register_patient(details)
    ins = details["ins"]
    patient = cluster.identity.issue_dev_token({"kind": "patient", "ins": ins})["access_token"]
    cluster.dossier.open(patient, {"ins": ins})
    _, doctor = people.professional()
    cluster.consent.record_consent(doctor, ins)
    return ins, patient, doctor


def deliveries(environment: dict[str, str]) -> Any:
    return service_database(environment, "notify").deliveries


def start_successor(container_factory: Any, clock: FakeClock) -> None:
    """A new notify container, as the orchestrator starts one after a crash."""
    successor = container_factory(NotifyService)
    replace_dependencies(successor, clock=clock)
    successor.start()


def test_sms_and_both_follow_the_patients_preferences(
    cluster: Any, people: People, smtp_server: Mailbox, sms_gateway: SmsInbox
) -> None:
    email, mobile = "prefs@patients.dmp-test.fr", "+33611223344"
    ins, patient, doctor = patient_with_doctor(cluster, people, email, mobile)
    smtp_server.wait_for(
        email, 1, ACCESS_NEWS
    )  # the consent notice went out by email, before the change
    cluster.notify.set_preferences(patient, ins, {"channels": "sms"})
    cluster.dossier.add_document(doctor, ins, submission(b"%PDF-1.4 un"))
    assert eventually(lambda: sms_gateway.texts(mobile))
    cluster.notify.set_preferences(patient, ins, {"channels": "both", "language": "en"})
    cluster.dossier.add_document(doctor, ins, submission(b"%PDF-1.4 deux"))
    mail = smtp_server.wait_for(email, 1, "New document")[0]
    assert "added a document" in mail.get_content()
    assert eventually(lambda: len(sms_gateway.texts(mobile)) == 2)
    assert cluster.notify.preferences(patient, ins) == {
        "channels": "both",
        "routine": "immediate",
        "language": "en",
    }


def test_routine_events_wait_for_the_daily_digest_urgent_ones_do_not(
    cluster: Any, people: People, smtp_server: Mailbox, clock: FakeClock
) -> None:
    email = "digest@patients.dmp-test.fr"
    ins, patient, doctor = patient_with_doctor(cluster, people, email)
    cluster.notify.set_preferences(patient, ins, {"routine": "daily_digest"})
    for n in range(3):
        cluster.dossier.add_document(doctor, ins, submission(f"%PDF-1.4 {n}".encode()))
    cluster.dossier.search(doctor, ins)  # a first access: always at once
    assert smtp_server.wait_for(email, 1, "Consultation")
    assert cluster.notify.send_digests() == {"digests": 0}  # the day is not over
    assert smtp_server.messages(email, "Nouveau document") == []
    clock.advance(timedelta(days=1))
    assert eventually(
        lambda: (
            cluster.notify.send_digests()["digests"] == 1 or smtp_server.messages(email, "résumé")
        )
    )
    digest = smtp_server.wait_for(email, 1, "résumé")
    assert len(digest) == 1 and digest[0].get_content().count("a ajouté un document") == 3


def test_smtp_down_messages_wait_and_go_out_once_it_is_back(
    cluster: Any,
    people: People,
    smtp_server: Mailbox,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    environment: dict[str, str],
    restart_settings: Callable[[], None],
) -> None:
    email = "panne@patients.dmp-test.fr"
    ins, _, doctor = patient_with_doctor(cluster, people, email)
    monkeypatch.setenv("SMTP_PORT", "9")  # nothing listens there: connection refused
    restart_settings()
    cluster.dossier.add_document(doctor, ins, submission(b"%PDF-1.4 attente"))

    # Every first attempt over (none still sending: one that started before SMTP_PORT changed back would
    # fail after the clock moved and wait past this test), the deposit's among the failed ones (the opening's
    # and the consent's mails may fail too, and before the deposit's event has even arrived).
    def all_failed_once() -> bool:
        found = deliveries(environment)
        return found.count_documents({"status": "sending"}) == 0 and any(
            event["type"] == "document_added"
            for failed in found.find({"status": "pending", "attempts": 1})
            for event in failed["events"]
        )

    assert eventually(all_failed_once)
    monkeypatch.setenv("SMTP_PORT", str(smtp_server.port))
    restart_settings()
    assert smtp_server.messages(email, DOSSIER_NEWS) == []
    clock.advance(timedelta(minutes=2))  # past the first backoff
    cluster.notify.retry_due()
    cluster.notify.retry_due()
    assert len(smtp_server.wait_for(email, 1, "Nouveau document")) == 1
    clock.advance(timedelta(hours=1))
    cluster.notify.retry_due()
    assert len(smtp_server.messages(email, "Nouveau document")) == 1


def test_an_address_refused_for_good_is_dead_lettered_at_once_and_can_be_replayed(
    cluster: Any, people: People, environment: dict[str, str]
) -> None:
    ins, _, doctor = patient_with_doctor(cluster, people, "nobody@invalid.dmp-test.fr")
    cluster.dossier.add_document(doctor, ins, submission(b"%PDF-1.4 x"))
    letters = eventually(lambda: cluster.notify.dead_letters())
    assert letters[0]["attempts"] == 1 and "recipient refused" in letters[0]["reason"]
    assert cluster.notify.replay(letters[0]["delivery_id"]) == {
        "delivery_id": letters[0]["delivery_id"],
        "status": "replayed",
    }
    assert (
        deliveries(environment).find_one({"_id": letters[0]["delivery_id"]})["status"]
        == "dead_letter"
    )


def test_after_the_last_attempt_the_delivery_is_dead_lettered(
    cluster: Any,
    people: People,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    environment: dict[str, str],
    restart_settings: Callable[[], None],
) -> None:
    monkeypatch.setenv("DMP_NOTIFY_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("SMTP_PORT", "9")
    restart_settings()
    ins, _, doctor = patient_with_doctor(cluster, people, "jamais@patients.dmp-test.fr")
    cluster.dossier.add_document(doctor, ins, submission(b"%PDF-1.4 y"))
    for attempt in (1, 2):

        def failed(times: int = attempt) -> Any:
            return deliveries(environment).find_one({"status": "pending", "attempts": times})

        assert eventually(failed)
        clock.advance(timedelta(hours=2))  # past the backoff
        cluster.notify.retry_due()
    letters = eventually(lambda: cluster.notify.dead_letters())
    assert letters[0]["attempts"] == 3 and "gave up after retries" in letters[0]["reason"]


def test_killing_notify_loses_nothing_and_sends_nothing_twice(
    cluster: Any,
    people: People,
    smtp_server: Mailbox,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    container_factory: Any,
    environment: dict[str, str],
    services_runner: Any,
    restart_settings: Callable[[], None],
) -> None:
    email = "survivant@patients.dmp-test.fr"
    ins, _, doctor = patient_with_doctor(cluster, people, email)
    smtp_server.wait_for(
        email, 1, ACCESS_NEWS
    )  # the consent notice is out before the mail server fails
    monkeypatch.setenv("SMTP_PORT", "9")
    restart_settings()
    for n in range(5):
        cluster.dossier.add_document(doctor, ins, submission(f"%PDF-1.4 lot {n}".encode()))
    assert eventually(lambda: deliveries(environment).count_documents({"status": "pending"}) == 5)
    get_container(services_runner, NotifyService).kill()  # dies with 5 messages owed

    monkeypatch.setenv("SMTP_PORT", str(smtp_server.port))
    start_successor(container_factory, clock)
    clock.advance(timedelta(minutes=5))
    assert eventually(lambda: len(smtp_server.messages(email, "Nouveau document")) == 5, seconds=30)
    clock.advance(timedelta(hours=1))
    cluster.notify.retry_due()
    assert len(smtp_server.messages(email, "Nouveau document")) == 5


@pytest.fixture
def store_behind_proxy(
    environment: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[TcpProxy]:
    """The services reach the store through a proxy the test cuts (the store restarting), to be asked
    for before the services start."""
    proxy = TcpProxy(int(environment["MONGO_URI"].rstrip("/").rsplit(":", 1)[1]))
    proxy.start()
    monkeypatch.setenv("MONGO_URI", f"mongodb://127.0.0.1:{proxy.port}/")
    yield proxy
    proxy.stop()


def test_the_store_going_away_just_after_a_send_does_not_send_it_again(
    store_behind_proxy: TcpProxy,
    cluster: Any,
    people: People,
    smtp_server: Mailbox,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    environment: dict[str, str],
) -> None:
    email = "coupure@patients.dmp-test.fr"
    ins, _, doctor = patient_with_doctor(cluster, people, email)
    smtp_server.wait_for(email, 1, ACCESS_NEWS)  # the consent notice is out before the store is cut
    real_send, outages = mailer.send_email, 0

    def send_then_lose_the_store(*args: Any, **kwargs: Any) -> str:
        nonlocal outages
        sent = real_send(*args, **kwargs)
        if (
            not outages
        ):  # the first message is out; before notify records it, the store goes away for 2 s
            outages += 1
            store_behind_proxy.cut()
            threading.Timer(2, store_behind_proxy.restore).start()
        return sent

    monkeypatch.setattr(mailer, "send_email", send_then_lose_the_store)
    cluster.dossier.add_document(doctor, ins, submission(b"%PDF-1.4 coupure"))
    assert len(smtp_server.wait_for(email, 1, "Nouveau document")) == 1
    sent = eventually(lambda: deliveries(environment).find_one({"status": "sent"}), seconds=30)
    assert outages == 1 and sent["attempts"] == 1
    clock.advance(
        timedelta(hours=1)
    )  # long past the lease: a delivery still marked "sending" would go again
    assert cluster.notify.retry_due() == {"attempted": 0}
    assert len(smtp_server.messages(email, "Nouveau document")) == 1


def test_notify_dying_between_a_send_and_its_record_does_not_send_it_again(
    cluster: Any,
    people: People,
    smtp_server: Mailbox,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    container_factory: Any,
    environment: dict[str, str],
    services_runner: Any,
) -> None:
    email = "interrompu@patients.dmp-test.fr"
    ins, _, doctor = patient_with_doctor(cluster, people, email)

    def dies_before_the_store_hears(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError(
            "notify stalled, then killed, between the SMTP server's acceptance and the store write"
        )

    record_outcome = NotifyStore.sent
    monkeypatch.setattr(NotifyStore, "sent", dies_before_the_store_hears)
    cluster.dossier.add_document(doctor, ins, submission(b"%PDF-1.4 interrompu"))
    assert len(smtp_server.wait_for(email, 1, "Nouveau document")) == 1
    assert eventually(lambda: deliveries(environment).find_one({"status": "sending"}))
    get_container(services_runner, NotifyService).kill()
    monkeypatch.setattr(NotifyStore, "sent", record_outcome)  # the successor is healthy
    start_successor(container_factory, clock)
    clock.advance(timedelta(hours=1))  # long past the lease: the delivery looks abandoned
    cluster.notify.retry_due()
    assert eventually(lambda: deliveries(environment).find_one({"status": "sent"}))
    assert len(smtp_server.messages(email, "Nouveau document")) == 1
