"""The access rules, one test per rule, named after it."""

from datetime import UTC, date, datetime

import pytest

from services.common.actors import Actor, ActorKind
from services.common.grants import Action
from services.consent import matrix
from services.consent.rules import Facts, decide

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
MATRIX = matrix.in_force(NOW)
INS = "180017512345678"
PATIENT = Actor(kind=ActorKind.PATIENT, id="pat_1", ins=INS)
OTHER_PATIENT = Actor(kind=ActorKind.PATIENT, id="pat_2", ins="280017512345600")
DOCTOR = Actor(
    kind=ActorKind.PROFESSIONAL, id="rpps:10000000008", rpps="10000000008", profession="10"
)
PHARMACIST = Actor(
    kind=ActorKind.PROFESSIONAL, id="rpps:10000000016", rpps="10000000016", profession="21"
)
UNLISTED = Actor(
    kind=ActorKind.PROFESSIONAL, id="rpps:10000000024", rpps="10000000024", profession="99"
)


def facts(consent: bool = False, represented_until: date | None = None) -> Facts:
    return Facts(
        ins=INS, patient_id="pat_1", has_consent=consent, represented_until=represented_until
    )


@pytest.mark.parametrize("action", [Action.OPEN, Action.READ, Action.READ_HISTORY])
def test_r_holder_the_patient_may_act_on_their_own_dossier(action: Action) -> None:
    grant = decide(PATIENT, action, facts(), MATRIX, NOW)
    assert grant.allowed and grant.rule == "R-HOLDER"


def test_r_holder_writes_only_patient_documents() -> None:
    grant = decide(PATIENT, Action.WRITE, facts(), MATRIX, NOW)
    assert grant.rule == "R-HOLDER-WRITES" and grant.categories == ("90",)


def test_r_other_patient_is_refused() -> None:
    grant = decide(OTHER_PATIENT, Action.READ, facts(), MATRIX, NOW)
    assert not grant.allowed and grant.rule == "R-OTHER-PATIENT"


@pytest.mark.parametrize("action", [Action.READ, Action.WRITE])
def test_r_no_consent_professional_without_consent_is_refused(action: Action) -> None:
    grant = decide(DOCTOR, action, facts(consent=False), MATRIX, NOW)
    assert not grant.allowed and grant.rule == "R-NO-CONSENT"
    assert "not authorised" in grant.reason


def test_r_consent_doctor_reads_the_matrix_row() -> None:
    grant = decide(DOCTOR, Action.READ, facts(consent=True), MATRIX, NOW)
    assert grant.allowed and grant.rule == "R-CONSENT"
    assert set(grant.categories) == set(MATRIX.readable("10"))
    assert grant.matrix_version == "2023-10-26"


def test_r_consent_pharmacist_reads_less_than_a_doctor() -> None:
    doctor = decide(DOCTOR, Action.READ, facts(consent=True), MATRIX, NOW)
    pharmacist = decide(PHARMACIST, Action.READ, facts(consent=True), MATRIX, NOW)
    assert set(pharmacist.categories) < set(doctor.categories)


def test_r_consent_write_never_covers_patient_or_reimbursement_classes() -> None:
    grant = decide(DOCTOR, Action.WRITE, facts(consent=True), MATRIX, NOW)
    assert grant.allowed and not {"60", "90"} & set(grant.categories)


def test_r_matrix_profession_without_a_row_is_refused() -> None:
    grant = decide(UNLISTED, Action.READ, facts(consent=True), MATRIX, NOW)
    assert not grant.allowed and grant.rule == "R-MATRIX"


def test_r_pro_opens_a_professional_may_open() -> None:
    assert decide(PHARMACIST, Action.OPEN, facts(), MATRIX, NOW).rule == "R-PRO-OPENS"


def test_r_history_holder_professionals_do_not_see_history() -> None:
    grant = decide(DOCTOR, Action.READ_HISTORY, facts(consent=True), MATRIX, NOW)
    assert not grant.allowed and grant.rule == "R-HISTORY-HOLDER"


def test_r_matrix_category_narrowing_refuses_an_uncovered_category() -> None:
    grant = decide(PHARMACIST, Action.READ, facts(consent=True), MATRIX, NOW)
    assert grant.for_category("10").allowed
    refused = grant.for_category("11")
    assert not refused.allowed and refused.rule == "R-MATRIX-CATEGORY"


def test_matrix_in_force_before_the_first_version_is_an_error() -> None:
    with pytest.raises(LookupError):
        matrix.in_force(datetime(2020, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize("action", [Action.OPEN, Action.READ, Action.READ_HISTORY])
def test_r_representative_acts_for_the_minor_until_18(action: Action) -> None:
    grant = decide(OTHER_PATIENT, action, facts(represented_until=date(2027, 1, 1)), MATRIX, NOW)
    assert grant.allowed and grant.rule == "R-REPRESENTATIVE"


def test_r_representative_writes_only_patient_documents() -> None:
    grant = decide(
        OTHER_PATIENT, Action.WRITE, facts(represented_until=date(2027, 1, 1)), MATRIX, NOW
    )
    assert grant.categories == ("90",)


@pytest.mark.parametrize("birthday", [NOW.date(), date(2026, 1, 1)])
def test_r_majority_right_ends_on_the_18th_birthday(birthday: date) -> None:
    grant = decide(OTHER_PATIENT, Action.READ, facts(represented_until=birthday), MATRIX, NOW)
    assert not grant.allowed and grant.rule == "R-MAJORITY"


AGENT = Actor(kind=ActorKind.COUNTER_AGENT, id="agent:CPAM75-0042", organisation="751")
FEED = Actor(kind=ActorKind.SYSTEM, id="system:reimbursement-feed")


def test_r_counter_opens_an_agent_may_open() -> None:
    assert decide(AGENT, Action.OPEN, facts(), MATRIX, NOW).rule == "R-COUNTER-OPENS"


@pytest.mark.parametrize("actor", [AGENT, FEED])
@pytest.mark.parametrize("action", [Action.READ, Action.READ_HISTORY])
def test_r_no_content_agents_and_feeds_never_read(actor: Actor, action: Action) -> None:
    grant = decide(actor, action, facts(consent=True), MATRIX, NOW)
    assert not grant.allowed and grant.rule == "R-NO-CONTENT"


def test_r_feed_writes_only_reimbursement_data() -> None:
    grant = decide(FEED, Action.WRITE, facts(), MATRIX, NOW)
    assert grant.allowed and grant.categories == ("60",)
    assert not decide(AGENT, Action.WRITE, facts(), MATRIX, NOW).allowed


def test_r_suspended_refuses_even_with_consent() -> None:
    suspended = Facts(ins=INS, patient_id="pat_1", has_consent=True, suspended=True)
    grant = decide(DOCTOR, Action.READ, suspended, MATRIX, NOW)
    assert not grant.allowed and grant.rule == "R-SUSPENDED"
