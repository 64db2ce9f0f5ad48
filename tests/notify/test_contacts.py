"""notify keeps patients' contacts while it follows their changes (services/notify/contacts.py): one RPC
less per message, and never a message to an address the patient replaced."""

from __future__ import annotations

from typing import Any

from services.notify.contacts import Contact, Contacts
from tests.conftest import People
from tests.identity.test_contact import code_in
from tests.journeys import submission
from tests.mailbox import DOSSIER_NEWS, Mailbox
from tests.notify.test_delivery import patient_with_doctor


class Directory:
    """identity's answers, counted."""

    def __init__(self) -> None:
        self.email, self.asked = "a@x.fr", 0

    def look_up(self) -> Contact:
        self.asked += 1
        return {"email": self.email, "mobile": "", "language": "fr"}


def test_a_contact_is_kept_only_while_changes_are_followed() -> None:
    contacts, identity = Contacts(), Directory()
    contacts.of("pat_1", identity.look_up)
    contacts.of("pat_1", identity.look_up)
    assert identity.asked == 2  # not following (yet): every message asks identity
    contacts.following(True)
    contacts.of("pat_1", identity.look_up)
    assert contacts.of("pat_1", identity.look_up)["email"] == "a@x.fr" and identity.asked == 3
    contacts.following(False)  # the feed's connection was lost: a change may go unheard
    contacts.of("pat_1", identity.look_up)
    assert identity.asked == 4


def test_a_change_drops_the_patients_contact_at_once() -> None:
    contacts, identity = Contacts(), Directory()
    contacts.following(True)
    contacts.of("pat_1", identity.look_up)
    identity.email = "b@x.fr"
    contacts.changed("pat_1")
    assert contacts.of("pat_1", identity.look_up)["email"] == "b@x.fr"


def test_a_look_up_under_way_when_a_change_arrives_is_not_kept() -> None:
    contacts, identity = Contacts(), Directory()
    contacts.following(True)

    def read_then_changed() -> Contact:
        answer = identity.look_up()  # read before the change...
        identity.email = "b@x.fr"
        contacts.changed("pat_1")  # ...whose event arrives before the answer is kept
        return answer

    assert contacts.of("pat_1", read_then_changed)["email"] == "a@x.fr"
    assert contacts.of("pat_1", identity.look_up)["email"] == "b@x.fr"


def test_the_oldest_contacts_go_first_when_full() -> None:
    contacts, identity = Contacts(capacity=2), Directory()
    contacts.following(True)
    for patient in ("pat_1", "pat_2", "pat_3"):
        contacts.of(patient, identity.look_up)
    contacts.of("pat_3", identity.look_up)
    contacts.of("pat_1", identity.look_up)
    assert identity.asked == 4


def test_after_an_email_change_the_next_news_goes_to_the_new_address_only(
    cluster: Any, people: People, smtp_server: Mailbox
) -> None:
    old, new = "before-change@patients.dmp-test.fr", "after-change@patients.dmp-test.fr"
    ins, patient, doctor = patient_with_doctor(cluster, people, old)
    cluster.dossier.add_document(doctor, ins, submission(b"%PDF-1.4 first"))
    smtp_server.wait_for(old, 1, DOSSIER_NEWS)  # notify now keeps the old address
    cluster.identity.request_contact_change(patient, ins, {"email": new})
    cluster.identity.confirm_contact_change(
        patient, ins, {"code": code_in(smtp_server, new, "Vérification")}
    )
    cluster.dossier.add_document(doctor, ins, submission(b"%PDF-1.4 second"))
    smtp_server.wait_for(new, 1, DOSSIER_NEWS)
    assert len(smtp_server.messages(old, DOSSIER_NEWS)) == 1
