"""Legal representatives: an adult acts for a minor they represent, with their own login, and that
right ends at the minor's 18th birthday."""

from datetime import date, timedelta
from typing import Any

import pytest

from services.common.clock import utcnow
from services.common.errors import AccessDenied, Conflict, InvalidInput
from tests.conftest import People, service_database
from tests.identities import registration


def register(cluster: Any, born: date) -> tuple[str, str]:
    details = registration(born=born)
    cluster.identity.register_patient(details)
    ins = details["ins"]
    token = cluster.identity.issue_dev_token({"kind": "patient", "ins": ins})["access_token"]
    return ins, token


def years_ago(years: int, days: int = 0) -> date:
    today = utcnow().date()
    return today.replace(year=today.year - years) - timedelta(days=days)


def test_representative_opens_and_reads_the_minors_dossier(cluster: Any, people: People) -> None:
    minor, _ = register(cluster, years_ago(10))
    parent_ins, parent = register(cluster, years_ago(40))
    cluster.identity.add_representative(minor, {"representative_ins": parent_ins})
    cluster.dossier.open(parent, {"ins": minor})
    assert cluster.dossier.search(parent, minor)["documents"] == []
    assert cluster.consent.grant(parent, minor, "read")["rule"] == "R-REPRESENTATIVE"


def test_another_adult_is_refused(cluster: Any) -> None:
    minor, minor_token = register(cluster, years_ago(10))
    cluster.dossier.open(minor_token, {"ins": minor})
    _, stranger = register(cluster, years_ago(40))
    with pytest.raises(AccessDenied) as error:
        cluster.dossier.search(stranger, minor)
    assert error.value.details == [{"rule": "R-OTHER-PATIENT"}]


def test_an_adult_cannot_be_represented(cluster: Any) -> None:
    adult, _ = register(cluster, years_ago(18))
    parent_ins, _ = register(cluster, years_ago(45))
    with pytest.raises(Conflict, match="not a minor"):
        cluster.identity.add_representative(adult, {"representative_ins": parent_ins})


def test_a_minor_cannot_be_a_representative(cluster: Any) -> None:
    minor, _ = register(cluster, years_ago(5))
    sibling, _ = register(cluster, years_ago(17, days=-1))
    with pytest.raises(InvalidInput) as error:
        cluster.identity.add_representative(minor, {"representative_ins": sibling})
    assert error.value.details[0]["field"] == "representative_ins"


def test_the_right_ends_at_the_18th_birthday(cluster: Any, environment: dict[str, str]) -> None:
    minor, _ = register(cluster, years_ago(17, days=364))
    parent_ins, parent = register(cluster, years_ago(45))
    cluster.identity.add_representative(minor, {"representative_ins": parent_ins})
    assert cluster.consent.grant(parent, minor, "read")["allowed"]
    # A year later the minor is 18: the decision is taken from the birth date at each access.
    patients = service_database(environment, "identity").patients
    record = patients.find_one({"ins": minor})
    assert record is not None
    patients.replace_one(
        {"_id": record["_id"]}, {**record, "birth_date": years_ago(18).isoformat()}
    )
    grant = cluster.consent.grant(parent, minor, "read")
    assert not grant["allowed"] and grant["rule"] == "R-MAJORITY"
