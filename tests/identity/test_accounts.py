"""Account rules, without a broker or a store (services/identity/rules.py): who an account logs in as, who
may represent whom; and what a patient's record answers about its contacts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from services.common.actors import ActorKind, Role
from services.common.errors import AccessDenied, Conflict, InvalidInput
from services.identity.records import (
    AccountStatus,
    Channel,
    CounterAgent,
    Patient,
    Professional,
    SystemClient,
)
from services.identity.rules import actor_of, check_representation

AT = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
KEY = "-----BEGIN PUBLIC KEY-----\n...\n-----END PUBLIC KEY-----\n"
DOCTOR = Professional(
    id="rpps:10000000009",
    rpps="10000000009",
    profession="10",
    given_name="Jeanne",
    family_name="Durand",
    status=AccountStatus.ACTIVE,
    registered_at=AT,
    organisation="750000001",
    roles=(Role.SAMU_REGULATOR,),
)
AGENT = CounterAgent(
    id="agent:CPAM75-0042",
    agent_id="CPAM75-0042",
    organisation="751",
    given_name="Paul",
    family_name="Morel",
    card_public_key=KEY,
    status=AccountStatus.ACTIVE,
    registered_at=AT,
)
FEED = SystemClient(
    id="system:reimbursement-feed",
    client_id="reimbursement-feed",
    card_public_key=KEY,
    status=AccountStatus.ACTIVE,
    registered_at=AT,
)


def test_a_professional_logs_in_with_their_rpps_profession_organisation_and_roles() -> None:
    actor = actor_of(DOCTOR)
    assert (actor.kind, actor.id) == (ActorKind.PROFESSIONAL, DOCTOR.id)
    assert (actor.rpps, actor.profession) == ("10000000009", "10")
    assert actor.organisation == "750000001" and actor.roles == (Role.SAMU_REGULATOR,)


def test_a_professional_speaks_with_their_registered_name_which_no_event_carries() -> None:
    """The token names them as registered (the dossier keeps it with what they deposit); events carry ids."""
    actor = actor_of(DOCTOR)
    assert (actor.given_name, actor.family_name) == ("Jeanne", "Durand")
    assert "Jeanne" not in str(actor.ref) and "Durand" not in str(actor.ref)


def test_an_agent_logs_in_with_their_fund_and_a_system_as_itself() -> None:
    assert (actor_of(AGENT).kind, actor_of(AGENT).organisation) == (ActorKind.COUNTER_AGENT, "751")
    assert (actor_of(FEED).kind, actor_of(FEED).id) == (ActorKind.SYSTEM, FEED.id)


@pytest.mark.parametrize("account", [DOCTOR, AGENT, FEED])
def test_a_suspended_account_may_not_log_in(
    account: Professional | CounterAgent | SystemClient,
) -> None:
    with pytest.raises(AccessDenied) as refused:
        actor_of(replace(account, status=AccountStatus.SUSPENDED))
    assert refused.value.details == [{"rule": "R-SUSPENDED"}]


def patient(born: date) -> Patient:
    return Patient(
        id="pat_1",
        ins="280017512345678",
        given_name="Camille",
        family_name="Martin",
        sex="F",
        birth_date=born,
        email="camille@patients.dmp-test.fr",
        registered_at=AT,
    )


TODAY = date(2026, 12, 3)


def test_an_adult_represents_a_minor_until_the_18th_birthday() -> None:
    check_representation(patient(date(2008, 12, 4)), patient(date(1980, 1, 15)), TODAY)
    with pytest.raises(Conflict):
        check_representation(patient(date(2008, 12, 3)), patient(date(1980, 1, 15)), TODAY)


def test_a_minor_represents_nobody() -> None:
    with pytest.raises(InvalidInput) as refused:
        check_representation(patient(date(2010, 1, 1)), patient(date(2008, 12, 4)), TODAY)
    assert refused.value.details[0]["field"] == "representative_ins"


def test_a_patient_is_reached_on_a_channel_at_its_address_verified_once_a_code_came_back() -> None:
    registered = replace(patient(date(1980, 1, 15)), mobile="+33612345678")
    assert (
        registered.address(Channel.EMAIL) == registered.email
        and registered.address(Channel.SMS) == "+33612345678"
    )
    assert not registered.verified(Channel.EMAIL)
    verified = replace(registered, email_verified_at=AT)
    assert verified.verified(Channel.EMAIL) and not verified.verified(Channel.SMS)
