"""identity over the real broker and store: enrolment, tokens and their refusals."""

from collections.abc import Callable
from typing import Any

import pytest

from services.common.errors import AccessDenied, Conflict, InvalidInput, NotFound
from services.common.settings import Settings
from services.common.tokens import verify
from tests.conftest import People
from tests.identities import make_ins, make_rpps, registration


def test_registered_patient_gets_a_token_that_verifies_as_them(cluster: Any) -> None:
    details = registration()
    ins = details["ins"]
    patient_id = cluster.identity.register_patient(details)["patient_id"]
    token = cluster.identity.issue_dev_token({"kind": "patient", "ins": ins})
    actor = verify(token["access_token"], Settings.load())
    assert actor.id == patient_id and actor.ins == ins and token["expires_in"] == 900


def test_professional_token_carries_rpps_and_profession(cluster: Any, people: People) -> None:
    rpps, token = people.professional("21")
    actor = verify(token, Settings.load())
    assert actor.rpps == rpps and actor.profession == "21" and actor.id == f"rpps:{rpps}"


def test_same_ins_twice_is_a_conflict(cluster: Any) -> None:
    details = registration()
    cluster.identity.register_patient(details)
    with pytest.raises(Conflict):
        cluster.identity.register_patient({**details, "email": "other@patients.dmp-test.fr"})


@pytest.mark.parametrize(
    "change, field",
    [
        ({"ins": "180017512345600"}, "ins"),
        ({"email": "not-an-email"}, "email"),
        ({"birth_date": "15/01/1980"}, "birth_date"),
        ({"nickname": "cam"}, "nickname"),
        ({"sex": "M"}, "sex"),
        ({"birth_date": "1981-01-15"}, "birth_date"),
        ({"birth_date": "1980-02-15"}, "birth_date"),
        ({"birth_place_code": "7505"}, "birth_place_code"),
        ({"sex": "X"}, "sex"),
    ],
)
def test_bad_registration_names_the_field(cluster: Any, change: dict[str, str], field: str) -> None:
    with pytest.raises(InvalidInput) as error:
        cluster.identity.register_patient({**registration(), **change})
    assert [d["field"] for d in error.value.details] == [field]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"organisation": "123456789"}, "organisation"),
        ({"organisation": "12345678"}, "organisation"),
        ({"specialty": "médecine générale"}, "specialty"),
        ({"card_public_key": "not a key"}, "card_public_key"),
    ],
)
def test_bad_professional_registration_names_the_field(
    cluster: Any, change: dict[str, str], field: str
) -> None:
    with pytest.raises(InvalidInput) as error:
        cluster.identity.register_professional(
            {
                "rpps": make_rpps(),
                "profession": "10",
                "given_name": "A",
                "family_name": "B",
                **change,
            }
        )
    assert [d["field"] for d in error.value.details] == [field]


def test_professional_token_carries_organisation_and_regulator_role(cluster: Any) -> None:
    rpps, finess = make_rpps(), "750712184"
    cluster.identity.register_professional(
        {
            "rpps": rpps,
            "profession": "10",
            "given_name": "A",
            "family_name": "B",
            "specialty": "SM26",
            "organisation": finess,
            "roles": ["samu_regulator"],
        }
    )
    actor = verify(
        cluster.identity.issue_dev_token({"kind": "professional", "rpps": rpps})["access_token"],
        Settings.load(),
    )
    assert actor.organisation == finess and actor.roles == ("samu_regulator",)


def test_unknown_profession_is_refused(cluster: Any) -> None:
    with pytest.raises(InvalidInput, match="TRE_G15"):
        cluster.identity.register_professional(
            {"rpps": make_rpps(), "profession": "99", "given_name": "A", "family_name": "B"}
        )


def test_token_for_an_unregistered_patient_is_not_found(cluster: Any) -> None:
    with pytest.raises(NotFound):
        cluster.identity.issue_dev_token({"kind": "patient", "ins": make_ins()})


def test_dev_login_off_refuses_enrolment_and_tokens(
    cluster: Any, monkeypatch: pytest.MonkeyPatch, restart_settings: Callable[[], None]
) -> None:
    monkeypatch.setenv("DMP_DEV_LOGIN", "false")
    restart_settings()
    with pytest.raises(AccessDenied) as error:
        cluster.identity.register_patient(registration())
    assert error.value.details == [{"rule": "R-DEV-LOGIN-OFF"}]
    with pytest.raises(AccessDenied):
        cluster.identity.issue_dev_token({"kind": "patient", "ins": make_ins()})
