"""identity over the real broker and store: enrolment, tokens and their refusals."""

from typing import Any

import pytest

from services.common.errors import AccessDenied, Conflict, InvalidInput, NotFound
from services.common.tokens import verify
from tests.conftest import People
from tests.identities import make_ins, make_rpps


def patient(number: str, **overrides: str) -> dict[str, str]:
    return {"ins": number, "given_name": "Camille", "family_name": "Martin", "birth_date": "1980-01-15",
            "email": "camille@patients.dmp-test.fr", **overrides}


def test_registered_patient_gets_a_token_that_verifies_as_them(cluster: Any) -> None:
    ins = make_ins()
    patient_id = cluster.identity.register_patient(patient(ins))["patient_id"]
    token = cluster.identity.issue_dev_token({"kind": "patient", "ins": ins})
    actor = verify(token["access_token"])
    assert actor.id == patient_id and actor.ins == ins and token["expires_in"] == 900


def test_professional_token_carries_rpps_and_profession(cluster: Any, people: People) -> None:
    rpps, token = people.professional("21")
    actor = verify(token)
    assert actor.rpps == rpps and actor.profession == "21" and actor.id == f"rpps:{rpps}"


def test_same_ins_twice_is_a_conflict(cluster: Any) -> None:
    ins = make_ins()
    cluster.identity.register_patient(patient(ins))
    with pytest.raises(Conflict):
        cluster.identity.register_patient(patient(ins))


@pytest.mark.parametrize(
    "change, field",
    [({"ins": "180017512345600"}, "ins"), ({"email": "not-an-email"}, "email"),
     ({"birth_date": "15/01/1980"}, "birth_date"), ({"nickname": "cam"}, "nickname")],
)
def test_bad_registration_names_the_field(cluster: Any, change: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidInput) as error:
        cluster.identity.register_patient(patient(make_ins(), **change))
    assert [d["field"] for d in error.value.details] == [field]


def test_unknown_profession_is_refused(cluster: Any) -> None:
    with pytest.raises(InvalidInput, match="TRE_G15"):
        cluster.identity.register_professional(
            {"rpps": make_rpps(), "profession": "99", "given_name": "A", "family_name": "B"})


def test_token_for_an_unregistered_patient_is_not_found(cluster: Any) -> None:
    with pytest.raises(NotFound):
        cluster.identity.issue_dev_token({"kind": "patient", "ins": make_ins()})


def test_dev_login_off_refuses_enrolment_and_tokens(cluster: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DMP_DEV_LOGIN", "false")
    with pytest.raises(AccessDenied) as error:
        cluster.identity.register_patient(patient(make_ins()))
    assert error.value.details == [{"rule": "R-DEV-LOGIN-OFF"}]
    with pytest.raises(AccessDenied):
        cluster.identity.issue_dev_token({"kind": "patient", "ins": make_ins()})
