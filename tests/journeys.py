"""Steps shared by service tests: a dossier with a consenting doctor and one document."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

PDF = b"%PDF-1.4\nCompte rendu de consultation\n%%EOF"
T = TypeVar("T")


def submission(raw: bytes = PDF, **overrides: Any) -> dict[str, Any]:
    return {
        "category": "10",
        "type_code": "11488-4",
        "title": "Consultation",
        "care_date": "2026-11-20",
        "format": "application/pdf",
        "content": base64.b64encode(raw).decode(),
        **overrides,
    }


@dataclass
class Deposit:
    ins: str
    patient: str
    doctor_rpps: str
    doctor: str
    document_id: str


def eventually(check: Callable[[], T], seconds: float = 20, interval: float = 0.1) -> T:
    """The first truthy result of check(), or the last failure after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            result = check()
            if result:
                return result
            failure: Exception = AssertionError(f"still {result!r} after {seconds} s")
        except AssertionError as error:
            failure = error
        if time.monotonic() > deadline:
            raise failure
        time.sleep(interval)


def become_medecin_traitant(
    cluster: Any, ins: str, patient: str, doctor: str, doctor_rpps: str
) -> dict[str, Any]:
    """The doctor proposes themselves and the patient (their own token) confirms: the two steps it takes."""
    proposal = cluster.consent.declare_medecin_traitant(doctor, ins, {"patient_agreed": True})
    assert proposal["status"] == "proposed"
    confirmed: dict[str, Any] = cluster.consent.confirm_medecin_traitant(
        patient, ins, {"professional_id": f"rpps:{doctor_rpps}"}
    )
    assert confirmed["medecin_traitant"] == f"rpps:{doctor_rpps}"
    return confirmed


def minor_with_representative(cluster: Any, people: Any) -> tuple[str, str, str]:
    """(ins, minor's token, representative's token) of a 15-year-old whose open dossier a parent represents."""
    from datetime import date

    from tests.identities import registration

    minor_details = registration(born=date.today().replace(year=date.today().year - 15))
    cluster.identity.register_patient(minor_details)
    ins = minor_details["ins"]
    minor = cluster.identity.issue_dev_token({"kind": "patient", "ins": ins})["access_token"]
    parent_ins, parent = people.patient()
    cluster.identity.add_representative(ins, {"representative_ins": parent_ins})
    cluster.dossier.open(minor, {"ins": ins})
    return ins, minor, parent


def event_dispatcher(uri: str) -> Callable[[str, str, dict[str, Any]], None]:
    """nameko's `event_dispatcher`, signing each event as its source, as the services publish theirs
    (services/common/signatures.py): the tests that play a service's part, in the process that holds every
    service's key."""
    from nameko.standalone.events import get_event_exchange

    from services.common.principals import SignedPublisher
    from services.common.settings import Settings

    keys = Settings.load().bus_keys

    def dispatch(source: str, event_type: str, payload: dict[str, Any]) -> None:
        exchange = get_event_exchange(source)
        SignedPublisher(uri, source, keys=keys).publish(
            payload, exchange=exchange, routing_key=event_type, declare=[exchange]
        )

    return dispatch
