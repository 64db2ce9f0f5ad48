"""Codes by SMS, through an HTTP SMS gateway with Kannel's interface (a real local one)."""

from typing import Any

import pytest

from services.common.errors import InvalidInput
from services.common.settings import Settings
from services.common.tokens import verify
from tests.conftest import People
from tests.identities import registration
from tests.identity.test_login import ADDRESS
from tests.mailbox import SmsInbox


def test_patient_logs_in_with_a_code_sent_by_sms(cluster: Any, sms_gateway: SmsInbox) -> None:
    details = {**registration(), "mobile": "+33612340001"}
    cluster.identity.register_patient(details)
    cluster.identity.request_login_code({"ins": details["ins"], "channel": "sms"}, ADDRESS)
    code = sms_gateway.wait_for_code("+33612340001")
    token = cluster.identity.login_with_code({"ins": details["ins"], "code": code}, ADDRESS)
    assert verify(token["access_token"], Settings.load()).ins == details["ins"]
    [text] = sms_gateway.texts("+33612340001")
    assert "Mon espace santé" in text["text"] and text["from"] == "DMP"


def test_sms_login_without_a_mobile_answers_the_same_and_sends_nothing(
    cluster: Any, sms_gateway: SmsInbox
) -> None:
    details = registration()
    cluster.identity.register_patient(details)
    answer = cluster.identity.request_login_code({"ins": details["ins"], "channel": "sms"}, ADDRESS)
    assert answer == {"status": "sent_if_registered", "expires_in": 300}


def test_patient_adds_a_mobile_verified_by_sms(
    cluster: Any, people: People, sms_gateway: SmsInbox
) -> None:
    ins, patient = people.patient()
    cluster.identity.request_contact_change(patient, ins, {"mobile": "+33712340002"})
    code = sms_gateway.wait_for_code("+33712340002")
    cluster.identity.confirm_contact_change(patient, ins, {"code": code})
    patient_id = cluster.consent.grant(patient, ins, "read")["patient_id"]
    assert cluster.identity.contact_of(patient_id)["mobile"] == "+33712340002"


@pytest.mark.parametrize(
    "change",
    [{"mobile": "0612345678"}, {}, {"email": "a@patients.dmp-test.fr", "mobile": "+33612345678"}],
)
def test_contact_change_needs_exactly_one_valid_address(
    cluster: Any, people: People, change: dict[str, str]
) -> None:
    ins, patient = people.patient()
    with pytest.raises(InvalidInput):
        cluster.identity.request_contact_change(patient, ins, change)
