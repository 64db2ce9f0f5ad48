"""Issue 17, item 2: a replacement keeps the restrictions of the version it replaces. The patient's mask
(MASQUE_PS), a minor's secret (INVISIBLE_REPRESENTANTS_LEGAUX) and a result awaiting its announcement
(INVISIBLE_PATIENT) carry over to every new version; only the party who set one lifts it."""

from typing import Any

import pytest

from services.common.errors import Conflict, NotFound
from services.dossier import rules
from tests.conftest import People
from tests.journeys import Deposit, minor_with_representative, submission


def test_a_replacement_drops_the_patients_mask_no_more(
    cluster: Any, deposit: Deposit, people: People
) -> None:
    cluster.dossier.set_visibility(
        deposit.patient, deposit.ins, deposit.document_id, {"masked": True}
    )
    _, colleague = people.professional()
    cluster.consent.record_consent(colleague, deposit.ins)
    new = cluster.dossier.replace_document(
        deposit.doctor, deposit.ins, deposit.document_id, submission(b"%PDF-1.4 version 2")
    )
    assert new["visibility"] == [rules.MASKED]
    assert cluster.dossier.search(colleague, deposit.ins)["total"] == 0
    with pytest.raises(NotFound):
        cluster.dossier.read_document(colleague, deposit.ins, new["document_id"])
    third = cluster.dossier.replace_document(
        deposit.doctor, deposit.ins, new["document_id"], submission(b"%PDF-1.4 version 3")
    )
    assert third["visibility"] == [rules.MASKED]  # every new version, not only the next one
    # The patient, who set the mask, lifts it.
    cluster.dossier.set_visibility(
        deposit.patient, deposit.ins, third["document_id"], {"masked": False}
    )
    assert (
        cluster.dossier.read_document(colleague, deposit.ins, third["document_id"])["document"][
            "visibility"
        ]
        == []
    )


def test_a_replacement_keeps_a_minors_secret_from_the_representative(
    cluster: Any, people: People
) -> None:
    ins, minor, parent = minor_with_representative(cluster, people)
    _, doctor = people.professional()
    cluster.consent.record_consent(doctor, ins)
    secret = cluster.dossier.add_document(
        doctor,
        ins,
        submission(b"%PDF-1.4 contraception", visibility=[rules.INVISIBLE_TO_REPRESENTATIVES]),
    )
    new = cluster.dossier.replace_document(
        doctor, ins, secret["document_id"], submission(b"%PDF-1.4 v2")
    )
    assert new["visibility"] == [rules.INVISIBLE_TO_REPRESENTATIVES]
    assert cluster.dossier.search(parent, ins)["total"] == 0
    with pytest.raises(NotFound):
        cluster.dossier.read_document(parent, ins, new["document_id"])
    assert cluster.dossier.search(minor, ins)["total"] == 1


def test_a_replacement_of_a_result_awaiting_its_announcement_stays_invisible_until_the_same_date(
    cluster: Any,
    deposit: Deposit,
    people: People,
) -> None:
    first = cluster.dossier.add_document(
        deposit.doctor,
        deposit.ins,
        submission(b"%PDF-1.4 resultat", visibility=[rules.INVISIBLE_TO_PATIENT]),
    )
    new = cluster.dossier.replace_document(
        deposit.doctor, deposit.ins, first["document_id"], submission(b"%PDF-1.4 resultat corrige")
    )
    assert new["visibility"] == [rules.INVISIBLE_TO_PATIENT]
    with pytest.raises(NotFound):
        cluster.dossier.read_document(deposit.patient, deposit.ins, new["document_id"])
    # The author releases it when the announcement is made: the restriction is theirs.
    cluster.dossier.release_document(deposit.doctor, deposit.ins, new["document_id"])
    assert cluster.dossier.read_document(deposit.patient, deposit.ins, new["document_id"])


def test_carried_restrictions_are_added_to_the_submitted_ones() -> None:
    assert rules.carried_over([rules.MASKED], []) == [rules.MASKED]
    assert (
        rules.carried_over(
            [rules.INVISIBLE_TO_REPRESENTATIVES], [rules.INVISIBLE_TO_REPRESENTATIVES]
        )
        == []
    )
    assert rules.carried_over([], [rules.INVISIBLE_TO_PATIENT]) == []
    assert rules.carried_over(["SOMETHING_ELSE"], []) == []


def test_a_masked_document_cannot_be_replaced_by_one_invisible_to_the_patient() -> None:
    with pytest.raises(Conflict):
        rules.carried_over([rules.MASKED], [rules.INVISIBLE_TO_PATIENT])
