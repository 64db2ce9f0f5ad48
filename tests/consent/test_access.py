"""The consent engine over the real broker and store: médecin traitant, masking, blocks, care team,
withdrawal and expiry, emergency access, occupational doctors."""

from datetime import timedelta
from typing import Any

import pytest

from services.common.clock import utcnow
from services.common.errors import AccessDenied, Conflict, InvalidInput, NotFound
from tests.conftest import FakeClock, People
from tests.identities import make_rpps
from tests.journeys import Deposit, become_medecin_traitant, eventually, submission
from tests.mailbox import Mailbox


def rule_of(call: Any) -> str:
    with pytest.raises(AccessDenied) as error:
        call()
    return str(error.value.details[0]["rule"])


@pytest.fixture
def masked(cluster: Any, deposit: Deposit) -> Deposit:
    cluster.dossier.set_visibility(
        deposit.patient, deposit.ins, deposit.document_id, {"masked": True}
    )
    return deposit


def test_medecin_traitant_reads_a_masked_document_a_cardiologist_cannot(
    cluster: Any, masked: Deposit, people: People
) -> None:
    rpps_mt, mt = people.professional("10")
    become_medecin_traitant(cluster, masked.ins, masked.patient, mt, rpps_mt)
    _, cardiologist = people.professional("10")
    cluster.consent.record_consent(cardiologist, masked.ins)
    with pytest.raises(NotFound):
        cluster.dossier.read_document(cardiologist, masked.ins, masked.document_id)
    read = cluster.dossier.read_document(mt, masked.ins, masked.document_id)
    assert read["access"] == {"rule": "R-MEDECIN-TRAITANT", "emergency": False, "expires_at": None}
    assert (
        cluster.consent.settings(masked.patient, masked.ins)["medecin_traitant"]
        == f"rpps:{rpps_mt}"
    )


def test_only_a_medecin_can_be_medecin_traitant(
    cluster: Any, deposit: Deposit, people: People
) -> None:
    _, nurse = people.professional("60")
    with pytest.raises(InvalidInput):
        cluster.consent.declare_medecin_traitant(nurse, deposit.ins, {"patient_agreed": True})


def test_blocked_professional_sees_nothing_and_the_medecin_traitant_cannot_be_blocked(
    cluster: Any, deposit: Deposit, people: People
) -> None:
    cluster.consent.block(
        deposit.patient, deposit.ins, {"professional_id": f"rpps:{deposit.doctor_rpps}"}
    )
    assert rule_of(lambda: cluster.dossier.search(deposit.doctor, deposit.ins)) == "R-BLOCKED"
    assert (
        rule_of(
            lambda: cluster.consent.break_glass(
                deposit.doctor, deposit.ins, {"reason": "patient inconscient aux urgences"}
            )
        )
        == "R-BLOCKED"
    )
    cluster.consent.unblock(
        deposit.patient, deposit.ins, {"professional_id": f"rpps:{deposit.doctor_rpps}"}
    )
    assert cluster.dossier.search(deposit.doctor, deposit.ins)["total"] == 1

    rpps_mt, mt = people.professional("10")
    become_medecin_traitant(cluster, deposit.ins, deposit.patient, mt, rpps_mt)
    with pytest.raises(Conflict) as error:
        cluster.consent.block(deposit.patient, deposit.ins, {"professional_id": f"rpps:{rpps_mt}"})
    assert error.value.details == [{"rule": "R-BLOCK-MT"}]
    cluster.consent.end_medecin_traitant(deposit.patient, deposit.ins)
    cluster.consent.block(deposit.patient, deposit.ins, {"professional_id": f"rpps:{rpps_mt}"})


def test_withdrawn_consent_ends_access(cluster: Any, deposit: Deposit) -> None:
    cluster.consent.withdraw_consent(
        deposit.patient, deposit.ins, {"professional_id": f"rpps:{deposit.doctor_rpps}"}
    )
    assert rule_of(lambda: cluster.dossier.search(deposit.doctor, deposit.ins)) == "R-NO-CONSENT"
    cluster.consent.record_consent(deposit.doctor, deposit.ins)  # given again
    assert cluster.dossier.search(deposit.doctor, deposit.ins)["total"] == 1


def test_consent_expires(cluster: Any, deposit: Deposit, people: People, clock: FakeClock) -> None:
    _, nurse = people.professional("60")
    tomorrow = (utcnow() + timedelta(days=1)).date().isoformat()
    assert (
        cluster.consent.record_consent(nurse, deposit.ins, {"until": tomorrow})["until"] == tomorrow
    )
    assert cluster.consent.grant(nurse, deposit.ins, "read")["rule"] == "R-CONSENT"
    clock.advance(timedelta(days=2))
    assert cluster.consent.grant(nurse, deposit.ins, "read")["rule"] == "R-NO-CONSENT"


def test_care_team_member_reads_until_the_patient_objects(
    cluster: Any, deposit: Deposit, people: People
) -> None:
    rpps, nurse = people.professional("60")
    assert rule_of(lambda: cluster.dossier.search(nurse, deposit.ins)) == "R-NO-CONSENT"
    cluster.consent.join_care_team(nurse, deposit.ins, {"patient_informed": True})
    assert cluster.dossier.search(nurse, deposit.ins)["access"]["rule"] == "R-CARE-TEAM"
    cluster.consent.object_to_care_team(
        deposit.patient, deposit.ins, {"professional_id": f"rpps:{rpps}"}
    )
    assert rule_of(lambda: cluster.dossier.search(nurse, deposit.ins)) == "R-NO-CONSENT"


def test_emergency_access_reads_and_adds_for_an_hour_and_patient_and_medecin_traitant_are_told(
    cluster: Any, people: People, smtp_server: Mailbox, clock: FakeClock
) -> None:
    email, mt_email = "urgence@patients.dmp-test.fr", "dr.traitant@cabinet.dmp-test.fr"
    ins, patient = people.patient(email=email)
    cluster.dossier.open(patient, {"ins": ins})
    mt_rpps = make_rpps()
    cluster.identity.register_professional(
        {
            "rpps": mt_rpps,
            "profession": "10",
            "given_name": "M",
            "family_name": "T",
            "email": mt_email,
        }
    )
    mt = cluster.identity.issue_dev_token({"kind": "professional", "rpps": mt_rpps})["access_token"]
    become_medecin_traitant(cluster, ins, patient, mt, mt_rpps)
    _, urgentist = people.professional("10")
    grant = cluster.consent.break_glass(
        urgentist, ins, {"reason": "patient inconscient, allergies inconnues"}
    )
    assert grant["rule"] == "R-EMERGENCY" and grant["emergency"] is True
    listed = cluster.dossier.search(urgentist, ins)
    assert listed["access"]["emergency"] is True and listed["access"]["expires_at"]
    cluster.dossier.add_document(urgentist, ins, submission(b"%PDF-1.4 passage aux urgences"))
    mail = smtp_server.wait_for(email, 1, "urgence")[0]
    assert "bris de glace" in mail.get_content()
    to_mt = smtp_server.wait_for(mt_email, 1, "urgence")[0]
    assert "l'un de vos patients" in to_mt.get_content() and ins not in to_mt.get_content()
    clock.advance(timedelta(minutes=61))
    assert rule_of(lambda: cluster.dossier.search(urgentist, ins)) == "R-NO-CONSENT"


def test_emergency_oppositions_are_separate(cluster: Any, deposit: Deposit, people: People) -> None:
    cluster.consent.set_emergency_oppositions(
        deposit.patient, deposit.ins, {"oppose_emergency": True, "oppose_regulator": False}
    )
    _, urgentist = people.professional("10")
    assert (
        rule_of(
            lambda: cluster.consent.break_glass(
                urgentist, deposit.ins, {"reason": "détresse vitale"}
            )
        )
        == "R-EMERGENCY-OPPOSED"
    )
    rpps = people.professional_with_roles("10", ["samu_regulator"])
    regulator = cluster.identity.issue_dev_token({"kind": "professional", "rpps": rpps})[
        "access_token"
    ]
    grant = cluster.consent.break_glass(
        regulator, deposit.ins, {"reason": "appel au 15, patient inconscient"}
    )
    assert grant["rule"] == "R-REGULATOR-EMERGENCY"
    assert (
        rule_of(
            lambda: cluster.dossier.add_document(regulator, deposit.ins, submission(b"%PDF-1.4 x"))
        )
        == "R-EMERGENCY-READ-ONLY"
    )


def test_occupational_doctor_needs_the_patients_explicit_consent(
    cluster: Any, deposit: Deposit, people: People
) -> None:
    rpps = people.professional_with_roles("10", ["occupational_physician"])
    occupational = cluster.identity.issue_dev_token({"kind": "professional", "rpps": rpps})[
        "access_token"
    ]
    cluster.consent.record_consent(occupational, deposit.ins)  # an ordinary consent is not enough
    assert rule_of(lambda: cluster.dossier.search(occupational, deposit.ins)) == "R-OCCUPATIONAL"
    cluster.consent.authorise_occupational_doctor(
        deposit.patient, deposit.ins, {"professional_id": f"rpps:{rpps}"}
    )
    assert (
        cluster.dossier.search(occupational, deposit.ins)["access"]["rule"]
        == "R-OCCUPATIONAL-CONSENT"
    )


def test_medecin_traitant_sees_the_access_history(
    cluster: Any, deposit: Deposit, people: People
) -> None:
    rpps_mt, mt = people.professional("10")
    before = cluster.audit.history(
        mt, deposit.ins
    )  # not yet: only the traces of their own documents
    assert before["audience"] == "document_author" and before["traces"] == []
    cluster.consent.declare_medecin_traitant(
        mt, deposit.ins, {"patient_agreed": True}
    )  # a proposal: nothing yet
    assert cluster.audit.history(mt, deposit.ins)["audience"] == "document_author"
    cluster.consent.confirm_medecin_traitant(
        deposit.patient, deposit.ins, {"professional_id": f"rpps:{rpps_mt}"}
    )
    assert eventually(lambda: cluster.audit.history(mt, deposit.ins)["traces"])
    assert cluster.audit.history(mt, deposit.ins)["audience"] == "dossier"
