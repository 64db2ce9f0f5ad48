"""The patient's side changes their settings through pure functions (services/consent/records.py); what an
authorisation's dates mean."""

from datetime import UTC, datetime, timedelta

from services.consent.records import Authorisation, Kind, PatientSettings, Period, Proposal

AT = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
LATER = AT + timedelta(days=40)
DR_A, DR_B = "rpps:10000000009", "rpps:10000000017"


def test_a_new_medecin_traitant_ends_the_previous_ones_period_and_their_own_proposal() -> None:
    first = PatientSettings("280017512345678", "pat_1").with_medecin_traitant(DR_A, AT)
    assert first.history == (Period(DR_A, AT),)
    second = first.proposed_by(DR_B, AT).with_medecin_traitant(DR_B, LATER)
    assert second.medecin_traitant == DR_B and second.proposals == ()
    assert second.history == (Period(DR_A, AT, LATER), Period(DR_B, LATER))
    ended = second.without_medecin_traitant(LATER + timedelta(days=1))
    assert ended.medecin_traitant is None and ended.history[-1] == Period(
        DR_B, LATER, LATER + timedelta(days=1)
    )
    assert first.medecin_traitant == DR_A  # values: nothing changed in place


def test_proposing_again_keeps_one_proposal_the_latest() -> None:
    settings = (
        PatientSettings("280017512345678")
        .proposed_by(DR_A, AT)
        .proposed_by(DR_B, AT)
        .proposed_by(DR_A, LATER)
    )
    assert settings.proposals == (Proposal(DR_B, AT), Proposal(DR_A, LATER))


def test_blocks_are_a_sorted_set() -> None:
    settings = (
        PatientSettings("280017512345678")
        .with_block(DR_B, True)
        .with_block(DR_A, True)
        .with_block(DR_B, True)
    )
    assert settings.blocked == (DR_A, DR_B)
    assert settings.with_block(DR_A, False).blocked == (DR_B,)
    assert settings.with_block("rpps:10000000025", False).blocked == (
        DR_A,
        DR_B,
    )  # unblocking a stranger: nothing


def test_an_authorisation_counts_from_its_recording_until_it_ends_or_is_withdrawn() -> None:
    consent = Authorisation(
        Kind.CONSENT,
        "280017512345678",
        "pat_1",
        DR_A,
        recorded_at=AT,
        recorded_by=DR_A,
        until=LATER,
    )
    assert not consent.active(AT - timedelta(seconds=1))
    assert consent.active(AT) and consent.active(LATER - timedelta(seconds=1))
    assert not consent.active(LATER)
    withdrawn = Authorisation(
        Kind.CONSENT,
        "280017512345678",
        "pat_1",
        DR_A,
        recorded_at=AT,
        recorded_by=DR_A,
        withdrawn_at=AT + timedelta(days=1),
    )
    assert not withdrawn.active(AT + timedelta(hours=1))  # withdrawn is withdrawn, whenever asked
