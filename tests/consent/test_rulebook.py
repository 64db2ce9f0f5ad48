"""The rules of domain.md, one table row each, and the properties that must hold whatever the facts."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.common.actors import Actor, ActorKind, Role
from services.common.grants import Action
from services.common.rulebook import RULES
from services.consent import matrix
from services.consent.rules import (
    MASKED_FROM_PROFESSIONALS,
    EmergencyAccess,
    Facts,
    decide,
    may_break_glass,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
MATRIX = matrix.in_force(NOW)
INS = "180017512345660"
BASE = Facts(ins=INS, patient_id="pat_1")
HOLDER = Actor(kind=ActorKind.PATIENT, id="pat_1", ins=INS)
PARENT = Actor(kind=ActorKind.PATIENT, id="pat_2", ins="280017512345600")
DOCTOR = Actor(
    kind=ActorKind.PROFESSIONAL, id="rpps:10000000009", rpps="10000000009", profession="10"
)
NURSE = Actor(
    kind=ActorKind.PROFESSIONAL, id="rpps:10000000017", rpps="10000000017", profession="60"
)
REGULATOR = DOCTOR.model_copy(update={"roles": (Role.SAMU_REGULATOR,)})
OCCUPATIONAL = DOCTOR.model_copy(update={"roles": (Role.OCCUPATIONAL_PHYSICIAN,)})
AGENT = Actor(kind=ActorKind.COUNTER_AGENT, id="agent:CPAM75-0042", organisation="751")
FEED = Actor(kind=ActorKind.SYSTEM, id="system:reimbursement-feed")
SOON = NOW + timedelta(minutes=30)

TABLE = [
    # (rule, actor, action, facts, allowed)
    ("R-HOLDER", HOLDER, Action.READ, BASE, True),
    ("R-HOLDER-WRITES", HOLDER, Action.WRITE, BASE, True),
    (
        "R-REPRESENTATIVE",
        PARENT,
        Action.READ,
        replace(BASE, represented_until=date(2030, 1, 1)),
        True,
    ),
    ("R-MAJORITY", PARENT, Action.READ, replace(BASE, represented_until=date(2026, 1, 1)), False),
    ("R-OTHER-PATIENT", PARENT, Action.READ, BASE, False),
    ("R-SUSPENDED", DOCTOR, Action.READ, replace(BASE, has_consent=True, suspended=True), False),
    ("R-BLOCKED", DOCTOR, Action.READ, replace(BASE, has_consent=True, blocked=True), False),
    ("R-PRO-OPENS", NURSE, Action.OPEN, BASE, True),
    ("R-HOLDER-MANAGES", DOCTOR, Action.MANAGE, replace(BASE, is_medecin_traitant=True), False),
    ("R-HISTORY-HOLDER", DOCTOR, Action.READ_HISTORY, replace(BASE, has_consent=True), False),
    ("R-MT-HISTORY", DOCTOR, Action.READ_HISTORY, replace(BASE, is_medecin_traitant=True), True),
    ("R-MEDECIN-TRAITANT", DOCTOR, Action.READ, replace(BASE, is_medecin_traitant=True), True),
    ("R-CONSENT", NURSE, Action.READ, replace(BASE, has_consent=True), True),
    ("R-CARE-TEAM", NURSE, Action.READ, replace(BASE, in_care_team=True), True),
    ("R-NO-CONSENT", DOCTOR, Action.READ, BASE, False),
    (
        "R-EMERGENCY",
        DOCTOR,
        Action.WRITE,
        replace(BASE, emergency=EmergencyAccess(False, SOON)),
        True,
    ),
    (
        "R-REGULATOR-EMERGENCY",
        REGULATOR,
        Action.READ,
        replace(BASE, emergency=EmergencyAccess(True, SOON)),
        True,
    ),
    (
        "R-EMERGENCY-READ-ONLY",
        REGULATOR,
        Action.WRITE,
        replace(BASE, emergency=EmergencyAccess(True, SOON)),
        False,
    ),
    (
        "R-NO-CONSENT",
        DOCTOR,
        Action.READ,
        replace(BASE, emergency=EmergencyAccess(False, NOW)),
        False,
    ),  # expired
    ("R-OCCUPATIONAL", OCCUPATIONAL, Action.READ, replace(BASE, has_consent=True), False),
    (
        "R-OCCUPATIONAL-CONSENT",
        OCCUPATIONAL,
        Action.READ,
        replace(BASE, occupational_consent=True),
        True,
    ),
    ("R-COUNTER-OPENS", AGENT, Action.OPEN, BASE, True),
    ("R-NO-CONTENT", AGENT, Action.READ, BASE, False),
    ("R-FEED-WRITES", FEED, Action.WRITE, BASE, True),
    ("R-NO-CONTENT", FEED, Action.READ, BASE, False),
]


@pytest.mark.parametrize(
    "rule, actor, action, facts, allowed", TABLE, ids=[f"{r[0]}-{i}" for i, r in enumerate(TABLE)]
)
def test_each_rule(rule: str, actor: Actor, action: Action, facts: Facts, allowed: bool) -> None:
    grant = decide(actor, action, facts, MATRIX, NOW)
    assert (grant.rule, grant.allowed) == (rule, allowed)
    assert grant.reason and grant.reason_fr and rule in RULES


def test_emergency_grants_say_so_and_expire() -> None:
    grant = decide(
        DOCTOR, Action.READ, replace(BASE, emergency=EmergencyAccess(False, SOON)), MATRIX, NOW
    )
    assert grant.emergency and grant.expires_at == SOON
    assert not decide(DOCTOR, Action.READ, replace(BASE, has_consent=True), MATRIX, NOW).emergency


@pytest.mark.parametrize(
    "actor, oppose_emergency, oppose_regulator, facts, refusal",
    [
        (DOCTOR, False, False, BASE, None),
        (DOCTOR, True, False, BASE, "R-EMERGENCY-OPPOSED"),
        (REGULATOR, True, False, BASE, None),
        (REGULATOR, False, True, BASE, "R-EMERGENCY-OPPOSED"),
        (DOCTOR, False, False, replace(BASE, blocked=True), "R-BLOCKED"),
        (AGENT, False, False, BASE, "R-DENY-DEFAULT"),
    ],
)
def test_break_glass_is_refused_when_opposed_separately_or_blocked(
    actor: Actor, oppose_emergency: bool, oppose_regulator: bool, facts: Facts, refusal: str | None
) -> None:
    assert (
        may_break_glass(actor, facts, oppose_emergency, oppose_regulator, MATRIX, NOW, SOON)
        == refusal
    )


professions = st.sampled_from([*sorted(MATRIX.rows), "99", "00", "77"])
actions = st.sampled_from(list(Action))
professional_facts = st.builds(
    Facts,
    ins=st.just(INS),
    patient_id=st.just("pat_1"),
    has_consent=st.booleans(),
    in_care_team=st.booleans(),
    is_medecin_traitant=st.booleans(),
    blocked=st.booleans(),
    occupational_consent=st.booleans(),
    emergency=st.none()
    | st.builds(EmergencyAccess, regulator=st.booleans(), expires_at=st.just(SOON)),
)
roles = st.sampled_from([(), (Role.SAMU_REGULATOR,), (Role.OCCUPATIONAL_PHYSICIAN,)])


def professional(profession: str, role: tuple[Role, ...]) -> Actor:
    return Actor(
        kind=ActorKind.PROFESSIONAL,
        id="rpps:10000000009",
        rpps="10000000009",
        profession=profession,
        roles=role,
    )


@given(professions, roles, actions, professional_facts)
def test_a_blocked_professional_gets_nothing_whatever_the_rest(
    profession: str, role: tuple[Role, ...], action: Action, facts: Facts
) -> None:
    blocked = replace(facts, blocked=True)
    assert not decide(professional(profession, role), action, blocked, MATRIX, NOW).allowed


@given(professions, roles, professional_facts)
def test_masked_documents_stay_hidden_from_every_professional_but_the_medecin_traitant(
    profession: str, role: tuple[Role, ...], facts: Facts
) -> None:
    grant = decide(professional(profession, role), Action.READ, facts, MATRIX, NOW)
    if grant.allowed:
        assert (MASKED_FROM_PROFESSIONALS in grant.hidden_visibility) != (
            grant.rule == "R-MEDECIN-TRAITANT"
        )


@given(
    st.text(min_size=1, max_size=3).filter(lambda code: code not in MATRIX.rows),
    roles,
    actions,
    professional_facts,
)
def test_an_unknown_profession_reads_and_writes_nothing(
    profession: str, role: tuple[Role, ...], action: Action, facts: Facts
) -> None:
    grant = decide(professional(profession, role), action, facts, MATRIX, NOW)
    if action in (Action.READ, Action.WRITE):
        assert not grant.allowed
