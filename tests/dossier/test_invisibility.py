"""Documents invisible to the patient (awaiting an announcement consultation) or to legal
representatives (a minor's secret)."""

from datetime import date, timedelta
from typing import Any

import pytest

from services.common.errors import Conflict, InvalidInput
from services.dossier.rules import masked
from tests.conftest import FakeClock, People
from tests.identities import make_rpps, registration
from tests.journeys import eventually, submission
from tests.mailbox import Mailbox


def setup(cluster: Any, people: People, email: str) -> tuple[str, str, str, str]:
    ins, patient = people.patient(email=email)
    cluster.dossier.open(patient, {"ins": ins})
    rpps, doctor = people.professional("10")
    cluster.consent.record_consent(doctor, ins)
    return ins, patient, rpps, doctor


def test_invisible_result_is_hidden_from_the_patient_until_the_author_releases_it(
    cluster: Any, people: People, smtp_server: Mailbox
) -> None:
    email = "annonce@patients.dmp-test.fr"
    ins, patient, _, doctor = setup(cluster, people, email)
    document = cluster.dossier.add_document(
        doctor,
        ins,
        submission(b"%PDF-1.4 resultat", category="10", visibility=["INVISIBLE_PATIENT"]),
    )
    assert cluster.dossier.search(patient, ins)["total"] == 0
    assert cluster.dossier.search(doctor, ins)["total"] == 1
    assert eventually(
        lambda: (
            document["document_id"]
            in {
                t["document_id"]
                for t in cluster.audit.history(doctor, ins, {"limit": 200})["traces"]
            }
        )
    )
    patient_history = cluster.audit.history(patient, ins, {"limit": 200})["traces"]
    assert document["document_id"] not in {
        t["document_id"] for t in patient_history
    }  # not even its trace
    released = cluster.dossier.release_document(doctor, ins, document["document_id"])
    assert released["visibility"] == []
    assert cluster.dossier.search(patient, ins)["total"] == 1
    assert eventually(
        lambda: (
            document["document_id"]
            in {
                t["document_id"]
                for t in cluster.audit.history(patient, ins, {"limit": 200})["traces"]
            }
        )
    )
    mails = smtp_server.wait_for(email, 1, "Nouveau document")
    assert (
        len(mails) == 1 and "désormais visible" in mails[0].get_content()
    )  # told at release, not at deposit


def test_it_becomes_visible_after_a_month_and_the_author_is_reminded_after_two_weeks(
    cluster: Any, people: People, smtp_server: Mailbox, clock: FakeClock
) -> None:
    ins, patient = people.patient()
    cluster.dossier.open(patient, {"ins": ins})
    rpps, author_email = make_rpps(), "dr.annonce@hopital.dmp-test.fr"
    cluster.identity.register_professional(
        {
            "rpps": rpps,
            "profession": "10",
            "given_name": "A",
            "family_name": "B",
            "email": author_email,
        }
    )
    doctor = cluster.identity.issue_dev_token({"kind": "professional", "rpps": rpps})[
        "access_token"
    ]
    cluster.consent.record_consent(doctor, ins)
    cluster.dossier.add_document(
        doctor, ins, submission(b"%PDF-1.4 biopsie", visibility=["INVISIBLE_PATIENT"])
    )
    assert cluster.dossier.release_due() == {"released": 0, "reminded": 0}
    clock.advance(timedelta(days=15))
    assert cluster.dossier.release_due() == {"released": 0, "reminded": 1}
    assert "toujours invisible" in smtp_server.wait_for(author_email, 1, "Rappel")[0].get_content()
    assert cluster.dossier.search(patient, ins)["total"] == 0
    clock.advance(timedelta(days=16))
    assert cluster.dossier.release_due() == {"released": 1, "reminded": 0}
    assert cluster.dossier.search(patient, ins)["total"] == 1


def test_a_minors_secret_is_invisible_to_the_legal_representative(
    cluster: Any, people: People
) -> None:
    minor_details = registration(born=date.today().replace(year=date.today().year - 15))
    cluster.identity.register_patient(minor_details)
    minor = cluster.identity.issue_dev_token({"kind": "patient", "ins": minor_details["ins"]})[
        "access_token"
    ]
    parent_ins, parent = people.patient()
    cluster.identity.add_representative(minor_details["ins"], {"representative_ins": parent_ins})
    ins = minor_details["ins"]
    cluster.dossier.open(minor, {"ins": ins})
    _, doctor = people.professional("10")
    cluster.consent.record_consent(doctor, ins)
    cluster.dossier.add_document(doctor, ins, submission(b"%PDF-1.4 ordinaire"))
    secret = submission(b"%PDF-1.4 secret", visibility=["INVISIBLE_REPRESENTANTS_LEGAUX"])
    cluster.dossier.add_document(doctor, ins, secret)
    assert cluster.dossier.search(minor, ins)["total"] == 2
    assert cluster.dossier.search(parent, ins)["total"] == 1


def test_patients_do_not_make_documents_invisible(cluster: Any, people: People) -> None:
    ins, patient = people.patient()
    cluster.dossier.open(patient, {"ins": ins})
    with pytest.raises(InvalidInput) as error:
        cluster.dossier.add_document(
            patient,
            ins,
            submission(
                b"%PDF-1.4 x", category="90", type_code="DOCPAT01", visibility=["INVISIBLE_PATIENT"]
            ),
        )
    assert error.value.details[0]["field"] == "visibility"


def test_a_document_cannot_be_both_masked_and_invisible_to_the_patient() -> None:
    with pytest.raises(Conflict, match="cannot also be masked"):
        masked(["INVISIBLE_PATIENT"], True)
    assert masked(["INVISIBLE_REPRESENTANTS_LEGAUX"], True) == [
        "INVISIBLE_REPRESENTANTS_LEGAUX",
        "MASQUE_PS",
    ]
