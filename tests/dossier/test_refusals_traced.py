"""Issue 17, item 8: every refused attempt on a dossier is traced with its outcome and rule, not only the
refusals of an access rule (403): a second opening, a transition the state does not allow, bad input on a
known dossier, a change by someone other than the author."""

from typing import Any

import pytest

from services.common.errors import AccessDenied, Conflict, InvalidInput
from services.common.settings import Settings
from services.common.tokens import verify
from tests.conftest import People
from tests.journeys import Deposit, eventually, submission


def refusals(cluster: Any, deposit: Deposit, actor_id: str) -> list[dict[str, Any]]:
    traces = cluster.audit.history(deposit.patient, deposit.ins, {"limit": 100})["traces"]
    return [
        t
        for t in traces
        if t["type"] == "access_denied" and (t["actor"] or {}).get("id") == actor_id
    ]


def test_refused_reopenings_by_pharmacists_are_in_the_history(
    cluster: Any, deposit: Deposit, people: People
) -> None:
    rpps, pharmacist = people.professional("21")
    for _ in range(2):
        with pytest.raises(Conflict):
            cluster.dossier.open(pharmacist, {"ins": deposit.ins, "patient_consent": True})
    eventually(lambda: len(refusals(cluster, deposit, f"rpps:{rpps}")) == 2)
    traced = refusals(cluster, deposit, f"rpps:{rpps}")
    assert {(t["outcome"], t["rule"]) for t in traced} == {("denied", "R-STATE-CONFLICT")}


def test_a_transition_the_state_refuses_is_traced(cluster: Any, deposit: Deposit) -> None:
    with pytest.raises(Conflict):
        cluster.dossier.reopen(deposit.patient, deposit.ins)  # it is open
    traced = eventually(
        lambda: refusals(cluster, deposit, verify(deposit.patient, Settings.load()).id)
    )
    assert traced[0]["rule"] == "R-STATE-CONFLICT"


def test_a_change_by_someone_other_than_the_author_is_traced(
    cluster: Any, deposit: Deposit, people: People
) -> None:
    rpps, colleague = people.professional()
    cluster.consent.record_consent(colleague, deposit.ins)
    with pytest.raises(AccessDenied) as error:
        cluster.dossier.delete_document(colleague, deposit.ins, deposit.document_id)
    assert error.value.details == [
        {"rule": "R-AUTHOR-ONLY"}
    ]  # they see it: the author's rule is said
    traced = eventually(lambda: refusals(cluster, deposit, f"rpps:{rpps}"))
    assert [t["rule"] for t in traced] == ["R-AUTHOR-ONLY"] and traced[0][
        "document_id"
    ] == deposit.document_id


def test_bad_input_on_a_known_dossier_is_traced_once(cluster: Any, deposit: Deposit) -> None:
    with pytest.raises(InvalidInput):
        cluster.dossier.add_document(deposit.doctor, deposit.ins, submission(b"not a pdf at all"))
    doctor_id = f"rpps:{deposit.doctor_rpps}"
    traced = eventually(lambda: refusals(cluster, deposit, doctor_id))
    assert [t["rule"] for t in traced] == ["R-INVALID-REQUEST"]
