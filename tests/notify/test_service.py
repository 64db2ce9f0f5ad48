"""notify: the patient is emailed, over real SMTP, when a professional adds or reads."""

from typing import Any

from nameko import config

from services.common.clock import utcnow
from services.common.events import ActorRef, Event, EventType
from tests.conftest import People
from tests.journeys import Deposit, event_dispatcher, eventually, submission
from tests.mailbox import DOSSIER_NEWS, Mailbox


def test_patient_is_emailed_about_deposit_and_first_access(
    cluster: Any, people: People, smtp_server: Mailbox
) -> None:
    email = "camille.martin@patients.dmp-test.fr"
    ins, patient = people.patient(email=email)
    cluster.dossier.open(patient, {"ins": ins})
    rpps, doctor = people.professional()
    cluster.consent.record_consent(doctor, ins)
    document = cluster.dossier.add_document(doctor, ins, submission())
    cluster.dossier.read_document(doctor, ins, document["document_id"])
    cluster.dossier.read_document(
        doctor, ins, document["document_id"]
    )  # not a first access: no mail

    mails = smtp_server.wait_for(email, 2, DOSSIER_NEWS)
    subjects = sorted(str(m["Subject"]) for m in mails)
    assert subjects == [
        "Consultation de votre dossier médical partagé",
        "Nouveau document dans votre dossier médical partagé",
    ]
    for mail in mails:
        body = mail.get_content()
        assert f"RPPS {rpps}" in body and "Médecin" in body
        assert "Consultation du" not in body  # never the document's title
        assert "%PDF" not in body


def test_patients_own_actions_send_no_mail(
    cluster: Any, deposit: Deposit, smtp_server: Mailbox
) -> None:
    patient_id = cluster.consent.grant(deposit.patient, deposit.ins, "read")["patient_id"]
    email = cluster.identity.contact_of(patient_id)["email"]
    smtp_server.wait_for(email, 1, DOSSIER_NEWS)  # the doctor's deposit
    cluster.dossier.read_document(deposit.patient, deposit.ins, deposit.document_id)
    cluster.dossier.read_document(deposit.doctor, deposit.ins, deposit.document_id)
    smtp_server.wait_for(email, 2, DOSSIER_NEWS)  # the doctor's read; the patient's own read never
    assert len(smtp_server.messages(email, DOSSIER_NEWS)) == 2


def test_redelivered_event_sends_one_mail(
    cluster: Any, people: People, smtp_server: Mailbox
) -> None:
    email = "redelivery@patients.dmp-test.fr"
    ins, patient = people.patient(email=email)
    patient_id = cluster.consent.grant(patient, ins, "read")["patient_id"]
    event = Event(
        type=EventType.FIRST_ACCESS,
        source="dossier",
        occurred_at=utcnow(),
        patient_id=patient_id,
        actor=ActorRef(kind="professional", id="rpps:10000000008", profession="10"),
    )
    dispatch = event_dispatcher(uri=config["AMQP_URI"])
    for _ in range(3):
        dispatch("dossier", "first_access", event.model_dump(mode="json"))
    smtp_server.wait_for(email, 1)
    marker = Event(
        type=EventType.FIRST_ACCESS,
        source="dossier",
        occurred_at=utcnow(),
        patient_id=patient_id,
        actor=ActorRef(kind="professional", id="rpps:10000000016", profession="21"),
    )
    dispatch("dossier", "first_access", marker.model_dump(mode="json"))
    eventually(lambda: len(smtp_server.messages(email)) == 2)
    assert len(smtp_server.messages(email)) == 2
