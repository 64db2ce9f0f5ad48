"""A patient changes their email: the new address is used only once a code sent to it comes back."""

import re
from typing import Any

import pytest

from services.common.errors import AccessDenied, Unauthenticated
from tests.conftest import People
from tests.identity.test_login import ADDRESS
from tests.mailbox import Mailbox


def code_in(mailbox: Mailbox, email: str, subject: str) -> str:
    match = re.search(r"\b(\d{6})\b", mailbox.wait_for(email, 1, subject)[-1].get_content())
    assert match is not None
    return match.group(1)


def test_new_email_is_verified_before_it_is_used(
    cluster: Any, people: People, smtp_server: Mailbox
) -> None:
    old, new = "old-address@patients.dmp-test.fr", "new-address@patients.dmp-test.fr"
    ins, patient = people.patient(email=old)
    assert (
        cluster.identity.request_contact_change(patient, ins, {"email": new})["status"]
        == "code_sent"
    )
    code = code_in(smtp_server, new, "Vérification")
    # Until confirmed, login codes still go to the old address.
    cluster.identity.request_login_code({"ins": ins}, ADDRESS)
    smtp_server.wait_for(old, 1, "code de connexion")

    assert cluster.identity.confirm_contact_change(patient, ins, {"code": code}) == {
        "status": "changed"
    }
    assert smtp_server.wait_for(old, 1, "a changé")  # the old address is warned
    assert (
        cluster.identity.contact_of(cluster.consent.grant(patient, ins, "read")["patient_id"])[
            "email"
        ]
        == new
    )


def test_wrong_code_changes_nothing(cluster: Any, people: People, smtp_server: Mailbox) -> None:
    old = "keep-me@patients.dmp-test.fr"
    ins, patient = people.patient(email=old)
    cluster.identity.request_contact_change(
        patient, ins, {"email": "attacker@patients.dmp-test.fr"}
    )
    code = code_in(smtp_server, "attacker@patients.dmp-test.fr", "Vérification")
    with pytest.raises(Unauthenticated):
        cluster.identity.confirm_contact_change(
            patient, ins, {"code": f"{(int(code) + 1) % 1_000_000:06d}"}
        )
    assert (
        cluster.identity.contact_of(cluster.consent.grant(patient, ins, "read")["patient_id"])[
            "email"
        ]
        == old
    )


def test_only_the_holder_changes_contact_details(cluster: Any, people: People) -> None:
    ins, _ = people.patient()
    _, other_patient = people.patient()
    _, doctor = people.professional()
    for token in (other_patient, doctor):
        with pytest.raises(AccessDenied) as error:
            cluster.identity.request_contact_change(token, ins, {"email": "x@patients.dmp-test.fr"})
        assert error.value.details == [{"rule": "R-HOLDER-ONLY"}]
