"""consent's use cases in the fast tier: every entrypoint driven through nameko's worker_factory with the
in-memory store, a settable clock, real tokens, and a fake identity. Arguments go in as they arrive over the
bus (JSON), so the typed boundary validates them; each test reads what a caller would see: the decision or
the refusal, the events published, what a later decision or the settings page shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from nameko.testing.services import worker_factory

from services.common.actors import Actor, ActorKind, Role
from services.common.errors import AccessDenied, Conflict, DmpError, InvalidInput, NotFound
from services.common.events import Event, EventType, Outcome
from services.common.settings import Secret, Settings
from services.common.tokens import issue
from services.consent.memory import MemoryConsentStore
from services.consent.service import ConsentService
from services.identity.records import AccountStatus
from services.identity.store import status_change
from tests.clocks import SettableClock
from tests.consent.fakes import FakeIdentity
from tests.identities import make_ins, make_rpps
from tests.live_settings import live_settings

KEYS = ("DMP_TOKEN_SIGNING_KEY", "DMP_TOKEN_PUBLIC_KEYS")
REASON = "unconscious patient, brought in by the SAMU"


@dataclass
class Consent:
    service: Any  # the service's worker, its dependencies ours
    store: MemoryConsentStore
    clock: SettableClock
    identity: FakeIdentity

    def token(self, actor: Actor) -> str:
        return issue(
            actor,
            Settings.load().signing_key(Secret.TOKEN_SIGNING_KEY),
            Settings.load(),
            self.clock.now(),
        )

    def patient(self, born: date = date(1980, 1, 15)) -> tuple[str, Actor]:
        ins = make_ins(born=born)
        patient_id = f"pat_{ins}"
        self.identity.patients[ins] = patient_id
        return ins, Actor(kind=ActorKind.PATIENT, id=patient_id, ins=ins)

    def professional(self, profession: str = "10", *roles: Role) -> Actor:
        rpps = make_rpps()
        self.identity.professions[f"rpps:{rpps}"] = profession
        return Actor(
            kind=ActorKind.PROFESSIONAL,
            id=f"rpps:{rpps}",
            rpps=rpps,
            profession=profession,
            organisation="750000001",
            roles=roles,
        )

    def grant(self, actor: Actor, ins: str, action: str = "read") -> dict[str, Any]:
        decision: dict[str, Any] = self.service.grant(self.token(actor), ins, action)
        return decision

    def events(self, kind: EventType) -> list[Event]:
        return [event for event in self.store.events if event.type is kind]


@pytest.fixture
def consent(monkeypatch: pytest.MonkeyPatch, secrets: dict[str, str]) -> Consent:
    for name in KEYS:
        monkeypatch.setenv(name, secrets[name])
    store, clock, identity = MemoryConsentStore(), SettableClock(), FakeIdentity()
    service = worker_factory(
        ConsentService,
        configured=live_settings(),
        store=store,
        clock=clock,
        identity=identity,
        patient_ids={},
    )
    return Consent(service, store, clock, identity)


def fields(error: pytest.ExceptionInfo[DmpError]) -> list[str]:
    return [detail.get("field", "") for detail in error.value.details]


def rule(error: pytest.ExceptionInfo[DmpError]) -> str:
    return str(error.value.details[0]["rule"])


FEED = Actor(kind=ActorKind.SYSTEM, id="system:reimbursement-feed")


# Decisions


def test_the_holder_reads_their_dossier_and_another_patient_does_not(consent: Consent) -> None:
    ins, holder = consent.patient()
    _, other = consent.patient()
    allowed, refused = consent.grant(holder, ins), consent.grant(other, ins)
    assert (allowed["allowed"], allowed["rule"], allowed["patient_id"]) == (
        True,
        "R-HOLDER",
        holder.id,
    )
    assert (refused["allowed"], refused["rule"]) == (False, "R-OTHER-PATIENT")


def test_a_grant_names_a_bad_action_ins_or_token(consent: Consent) -> None:
    ins, holder = consent.patient()
    with pytest.raises(InvalidInput) as action:
        consent.grant(holder, ins, "delete")
    with pytest.raises(InvalidInput) as malformed:
        consent.grant(holder, "123", "read")
    assert fields(action) == ["action"] and fields(malformed) == ["ins"]
    with pytest.raises(NotFound):  # an INS nobody registered
        consent.grant(holder, make_ins(), "read")


def test_a_representative_manages_a_minors_dossier_until_their_majority(consent: Consent) -> None:
    today = consent.clock.now().date()
    born = today.replace(year=today.year - 18) + timedelta(days=10)  # 18 in ten days
    ins, minor = consent.patient(born=born)
    _, parent = consent.patient()
    consent.identity.represented[(parent.id, minor.id)] = born
    assert consent.grant(parent, ins, "manage")["rule"] == "R-REPRESENTATIVE"
    token = consent.token(parent)
    consent.clock.advance(timedelta(days=11))
    assert consent.service.grant(token, ins, "manage")["rule"] == "R-MAJORITY"


def test_a_document_decision_hides_what_its_visibility_hides(consent: Consent) -> None:
    ins, _ = consent.patient()
    doctor = consent.professional()
    consent.service.record_consent(consent.token(doctor), ins)
    token = consent.token(doctor)
    plain = {"category": "11", "visibility": [], "author_id": "rpps:10000000009"}
    masked = {**plain, "visibility": ["MASQUE_PS"]}
    assert consent.service.decide(token, ins, "read", plain)["allowed"]
    assert consent.service.decide(token, ins, "read", masked)["rule"] == "R-VISIBILITY"
    own = {**masked, "author_id": doctor.id}
    assert consent.service.decide(token, ins, "read", own)["allowed"]  # its author sees it


def test_a_document_decision_names_a_bad_category(consent: Consent) -> None:
    ins, holder = consent.patient()
    with pytest.raises(InvalidInput) as bad:
        consent.service.decide(
            consent.token(holder), ins, "read", {"category": "nope", "author_id": holder.id}
        )
    assert fields(bad) == ["category"]


def test_the_feed_writes_for_any_patient_and_nobody_else_does(consent: Consent) -> None:
    allowed = consent.service.grant_for_any_patient(consent.token(FEED), "write")
    assert (allowed["allowed"], allowed["rule"]) == (True, "R-FEED-WRITES")
    refused = consent.service.grant_for_any_patient(consent.token(consent.professional()), "write")
    assert (refused["allowed"], refused["rule"]) == (False, "R-FEED-ONLY")
    with pytest.raises(InvalidInput) as bad:
        consent.service.grant_for_any_patient(consent.token(FEED), "erase")
    assert fields(bad) == ["action"]


def status_changed(actor_id: str, status: str, at: datetime) -> dict[str, Any]:
    """identity's event, as status_change (services/identity/store.py) writes its data."""
    event = Event.of(
        EventType.ACCOUNT_STATUS_CHANGED,
        "identity",
        at,
        None,
        data=status_change(actor_id, AccountStatus(status), at),
    )
    return event.model_dump(mode="json")


def test_a_suspension_heard_from_identity_refuses_the_accounts_running_tokens(
    consent: Consent,
) -> None:
    ins, _ = consent.patient()
    doctor = consent.professional()
    consent.service.record_consent(consent.token(doctor), ins)
    feed_token, doctor_token = consent.token(FEED), consent.token(doctor)
    now, later = consent.clock.now(), timedelta(milliseconds=1)
    consent.service.on_account_status_changed(status_changed(doctor.id, "suspended", now))
    consent.service.on_account_status_changed(status_changed(FEED.id, "suspended", now))
    consent.service.on_account_status_changed(
        status_changed(doctor.id, "active", now - later)
    )  # late
    assert consent.service.grant(doctor_token, ins, "read")["rule"] == "R-SUSPENDED"
    assert consent.service.grant_for_any_patient(feed_token, "write")["rule"] == "R-SUSPENDED"
    consent.service.on_account_status_changed(status_changed(doctor.id, "active", now + later))
    assert consent.service.grant(doctor_token, ins, "read")["allowed"]


def test_a_malformed_status_event_is_parked_and_changes_nothing(consent: Consent) -> None:
    doctor = consent.professional()
    consent.service.on_account_status_changed({"event_id": "e1", "data": {"actor_id": doctor.id}})
    assert len(consent.store.parked) == 1 and not consent.store.suspended(doctor.id)


# Professionals


def test_a_professional_records_the_patients_consent_once_and_then_reads(consent: Consent) -> None:
    ins, holder = consent.patient()
    doctor = consent.professional()
    token = consent.token(doctor)
    assert consent.grant(doctor, ins)["rule"] == "R-NO-CONSENT"
    first = consent.service.record_consent(token, ins, {"until": "2099-01-01"})
    again = consent.service.record_consent(token, ins)
    assert (first["created"], first["until"], again["created"]) == (True, "2099-01-01", False)
    assert again["recorded_at"] == first["recorded_at"]
    assert consent.grant(doctor, ins)["rule"] == "R-CONSENT"
    assert [e.patient_id for e in consent.events(EventType.CONSENT_RECORDED)] == [holder.id]


def test_only_a_professional_records_a_consent_and_the_refusal_is_traced(
    consent: Consent,
) -> None:
    ins, holder = consent.patient()
    with pytest.raises(AccessDenied) as refused:
        consent.service.record_consent(consent.token(holder), ins)
    assert rule(refused) == "R-CONSENT-RECORDER"
    [denied] = consent.events(EventType.ACCESS_DENIED)
    assert (denied.outcome, denied.rule, denied.patient_id) == (
        Outcome.DENIED,
        "R-CONSENT-RECORDER",
        holder.id,
    )
    with pytest.raises(InvalidInput) as bad:
        consent.service.record_consent(consent.token(consent.professional()), ins, {"until": "x"})
    assert fields(bad) == ["until"] and consent.events(EventType.CONSENT_RECORDED) == []


def test_a_care_team_member_reads_until_their_membership_ends(consent: Consent) -> None:
    ins, _ = consent.patient()
    nurse = consent.professional("60")
    joined = consent.service.join_care_team(
        consent.token(nurse), ins, {"patient_informed": True, "days": 2}
    )
    assert joined["professional_id"] == nurse.id
    token = consent.token(nurse)
    assert consent.service.grant(token, ins, "read")["rule"] == "R-CARE-TEAM"
    consent.clock.advance(timedelta(days=3))
    assert consent.service.grant(token, ins, "read")["rule"] == "R-NO-CONSENT"
    assert len(consent.events(EventType.CARE_TEAM_JOINED)) == 1


def test_joining_the_care_team_needs_the_patient_informed(consent: Consent) -> None:
    ins, _ = consent.patient()
    with pytest.raises(InvalidInput) as uninformed:
        consent.service.join_care_team(
            consent.token(consent.professional()), ins, {"patient_informed": False}
        )
    assert fields(uninformed) == ["patient_informed"]
    assert consent.events(EventType.CARE_TEAM_JOINED) == []


def test_a_medecins_proposal_takes_effect_once_the_patient_confirms_it(consent: Consent) -> None:
    ins, holder = consent.patient()
    doctor = consent.professional()
    proposed = consent.service.declare_medecin_traitant(consent.token(doctor), ins, {})
    assert (proposed["status"], proposed["professional_id"]) == ("proposed", doctor.id)
    assert consent.grant(doctor, ins)["rule"] == "R-NO-CONSENT"  # nothing granted yet
    confirmed = consent.service.confirm_medecin_traitant(
        consent.token(holder), ins, {"professional_id": doctor.id}
    )
    assert (confirmed["medecin_traitant"], confirmed["previous"]) == (doctor.id, None)
    assert consent.grant(doctor, ins)["rule"] == "R-MEDECIN-TRAITANT"
    [declared] = consent.events(EventType.MEDECIN_TRAITANT_DECLARED)
    assert declared.data == {"professional_id": doctor.id, "previous": ""}


def test_only_a_medecin_proposes_themselves(consent: Consent) -> None:
    ins, holder = consent.patient()
    nurse, doctor = consent.professional("60"), consent.professional()
    with pytest.raises(InvalidInput) as profession:
        consent.service.declare_medecin_traitant(consent.token(nurse), ins, {})
    with pytest.raises(InvalidInput) as other:
        consent.service.declare_medecin_traitant(
            consent.token(doctor), ins, {"professional_id": nurse.id}
        )
    with pytest.raises(AccessDenied) as patient:
        consent.service.declare_medecin_traitant(consent.token(holder), ins, {})
    assert fields(profession) == ["profession"] and fields(other) == ["professional_id"]
    assert rule(patient) == "R-MT-DECLARER"
    assert consent.events(EventType.MEDECIN_TRAITANT_PROPOSED) == []


def test_the_feed_declares_the_medecin_traitant_at_once_and_only_a_medecin(
    consent: Consent,
) -> None:
    ins, _ = consent.patient()
    doctor, nurse = consent.professional(), consent.professional("60")
    declared = consent.service.declare_medecin_traitant(
        consent.token(FEED), ins, {"professional_id": doctor.id}
    )
    assert (declared["status"], declared["medecin_traitant"]) == ("declared", doctor.id)
    assert consent.grant(doctor, ins)["rule"] == "R-MEDECIN-TRAITANT"
    with pytest.raises(InvalidInput) as not_medecin:
        consent.service.declare_medecin_traitant(
            consent.token(FEED), ins, {"professional_id": nurse.id}
        )
    assert fields(not_medecin) == ["professional_id"]
    assert len(consent.events(EventType.MEDECIN_TRAITANT_DECLARED)) == 1


def test_a_professional_breaks_the_glass_for_an_hour_and_the_patient_is_told(
    consent: Consent,
) -> None:
    ins, holder = consent.patient()
    doctor = consent.professional()
    token = consent.token(doctor)
    grant = consent.service.break_glass(token, ins, {"reason": REASON})
    assert (grant["allowed"], grant["rule"], grant["emergency"]) == (True, "R-EMERGENCY", True)
    [started] = consent.events(EventType.EMERGENCY_ACCESS_STARTED)
    assert (started.patient_id, started.data["regulator"]) == (holder.id, "false")
    consent.clock.advance(timedelta(minutes=61))
    assert consent.service.grant(token, ins, "read")["rule"] == "R-NO-CONSENT"


def test_an_opposed_emergency_is_refused_traced_and_starts_nothing(consent: Consent) -> None:
    ins, holder = consent.patient()
    consent.service.set_emergency_oppositions(
        consent.token(holder), ins, {"oppose_emergency": True, "oppose_regulator": False}
    )
    doctor = consent.professional()
    with pytest.raises(AccessDenied) as opposed:
        consent.service.break_glass(consent.token(doctor), ins, {"reason": REASON})
    with pytest.raises(InvalidInput) as short:
        consent.service.break_glass(consent.token(doctor), ins, {"reason": "urgent"})
    assert rule(opposed) == "R-EMERGENCY-OPPOSED" and fields(short) == ["reason"]
    assert [e.rule for e in consent.events(EventType.ACCESS_DENIED)] == ["R-EMERGENCY-OPPOSED"]
    assert consent.events(EventType.EMERGENCY_ACCESS_STARTED) == []
    regulator = consent.professional("10", Role.SAMU_REGULATOR)  # not opposed: reads only
    grant = consent.service.break_glass(consent.token(regulator), ins, {"reason": REASON})
    assert grant["rule"] == "R-REGULATOR-EMERGENCY"
    assert consent.grant(regulator, ins, "write")["rule"] == "R-EMERGENCY-READ-ONLY"


# The patient's side


def test_the_patient_withdraws_a_consent_and_the_professional_their_own(consent: Consent) -> None:
    ins, holder = consent.patient()
    doctor, other = consent.professional(), consent.professional()
    for professional in (doctor, other):
        consent.service.record_consent(consent.token(professional), ins)
    answer = consent.service.withdraw_consent(
        consent.token(holder), ins, {"professional_id": doctor.id}
    )
    assert answer == {"professional_id": doctor.id, "status": "withdrawn"}
    consent.service.withdraw_consent(consent.token(other), ins)  # their own, whatever the payload
    assert consent.grant(doctor, ins)["rule"] == consent.grant(other, ins)["rule"] == "R-NO-CONSENT"
    withdrawn = consent.events(EventType.CONSENT_WITHDRAWN)
    assert [e.data["professional_id"] for e in withdrawn] == [doctor.id, other.id]


def test_withdrawing_what_is_not_there_or_for_another_patient_is_refused(
    consent: Consent,
) -> None:
    ins, holder = consent.patient()
    _, stranger = consent.patient()
    doctor = consent.professional()
    with pytest.raises(Conflict) as nothing:
        consent.service.withdraw_consent(consent.token(holder), ins, {"professional_id": doctor.id})
    with pytest.raises(InvalidInput) as unnamed:
        consent.service.withdraw_consent(consent.token(holder), ins, {})
    with pytest.raises(AccessDenied) as other:
        consent.service.withdraw_consent(
            consent.token(stranger), ins, {"professional_id": doctor.id}
        )
    assert fields(nothing) == fields(unnamed) == ["professional_id"]
    assert rule(other) == "R-OTHER-PATIENT"
    assert [e.rule for e in consent.events(EventType.ACCESS_DENIED)] == ["R-OTHER-PATIENT"]
    assert consent.events(EventType.CONSENT_WITHDRAWN) == []


def test_the_patient_objects_to_a_care_team_member(consent: Consent) -> None:
    ins, holder = consent.patient()
    nurse = consent.professional("60")
    consent.service.join_care_team(consent.token(nurse), ins, {"patient_informed": True})
    reference = {"professional_id": nurse.id}
    answer = consent.service.object_to_care_team(consent.token(holder), ins, reference)
    assert answer == {"professional_id": nurse.id, "status": "objected"}
    assert consent.grant(nurse, ins)["rule"] == "R-NO-CONSENT"
    with pytest.raises(Conflict) as again:  # no longer in the care team
        consent.service.object_to_care_team(consent.token(holder), ins, reference)
    assert fields(again) == ["professional_id"]
    assert len(consent.events(EventType.CARE_TEAM_OBJECTED)) == 1


def test_a_confirmation_needs_a_pending_proposal_of_an_unblocked_medecin(
    consent: Consent,
) -> None:
    ins, holder = consent.patient()
    doctor = consent.professional()
    reference = {"professional_id": doctor.id}
    with pytest.raises(Conflict) as unproposed:
        consent.service.confirm_medecin_traitant(consent.token(holder), ins, reference)
    consent.service.declare_medecin_traitant(consent.token(doctor), ins, {})
    consent.service.block(consent.token(holder), ins, reference)
    with pytest.raises(Conflict) as blocked:
        consent.service.confirm_medecin_traitant(consent.token(holder), ins, reference)
    with pytest.raises(AccessDenied) as professional:
        consent.service.confirm_medecin_traitant(
            consent.token(consent.professional()), ins, reference
        )
    assert fields(unproposed) == fields(blocked) == ["professional_id"]
    assert rule(professional) == "R-HOLDER-MANAGES"
    assert consent.events(EventType.MEDECIN_TRAITANT_DECLARED) == []


def test_the_patient_ends_the_medecin_traitant_once(consent: Consent) -> None:
    ins, holder = consent.patient()
    doctor = consent.professional()
    consent.service.declare_medecin_traitant(
        consent.token(FEED), ins, {"professional_id": doctor.id}
    )
    assert consent.service.end_medecin_traitant(consent.token(holder), ins) == {"status": "ended"}
    assert consent.grant(doctor, ins)["rule"] == "R-NO-CONSENT"
    with pytest.raises(Conflict) as none:
        consent.service.end_medecin_traitant(consent.token(holder), ins)
    assert fields(none) == ["medecin_traitant"]
    [ended] = consent.events(EventType.MEDECIN_TRAITANT_ENDED)
    assert ended.data == {"previous": doctor.id}


def test_a_blocked_professional_sees_nothing_until_unblocked(consent: Consent) -> None:
    ins, holder = consent.patient()
    doctor = consent.professional()
    consent.service.record_consent(consent.token(doctor), ins)
    reference = {"professional_id": doctor.id}
    assert consent.service.block(consent.token(holder), ins, reference) == {"blocked": [doctor.id]}
    assert consent.grant(doctor, ins)["rule"] == "R-BLOCKED"
    with pytest.raises(AccessDenied) as glass:  # emergency included
        consent.service.break_glass(consent.token(doctor), ins, {"reason": REASON})
    assert rule(glass) == "R-BLOCKED"
    assert consent.service.unblock(consent.token(holder), ins, reference) == {"blocked": []}
    assert consent.grant(doctor, ins)["rule"] == "R-CONSENT"
    kinds = [e.type for e in consent.events(EventType.PROFESSIONAL_BLOCKED)] + [
        e.type for e in consent.events(EventType.PROFESSIONAL_UNBLOCKED)
    ]
    assert kinds == [EventType.PROFESSIONAL_BLOCKED, EventType.PROFESSIONAL_UNBLOCKED]


def test_the_medecin_traitant_cannot_be_blocked_nor_anyone_by_a_professional(
    consent: Consent,
) -> None:
    ins, holder = consent.patient()
    doctor = consent.professional()
    consent.service.declare_medecin_traitant(
        consent.token(FEED), ins, {"professional_id": doctor.id}
    )
    with pytest.raises(Conflict) as mt:
        consent.service.block(consent.token(holder), ins, {"professional_id": doctor.id})
    assert rule(mt) == "R-BLOCK-MT"
    with pytest.raises(AccessDenied) as professional:
        consent.service.unblock(consent.token(doctor), ins, {"professional_id": doctor.id})
    with pytest.raises(InvalidInput) as malformed:
        consent.service.block(consent.token(holder), ins, {"professional_id": "doctor"})
    assert rule(professional) == "R-HOLDER-MANAGES" and fields(malformed) == ["professional_id"]
    assert consent.events(EventType.PROFESSIONAL_BLOCKED) == []


def test_the_patient_sets_emergency_oppositions_and_the_settings_show_them(
    consent: Consent,
) -> None:
    ins, holder = consent.patient()
    answer = consent.service.set_emergency_oppositions(
        consent.token(holder), ins, {"oppose_emergency": False, "oppose_regulator": True}
    )
    assert answer == {"oppose_emergency": False, "oppose_regulator": True}
    settings = consent.service.settings(consent.token(holder), ins)
    assert (settings["oppose_emergency"], settings["oppose_regulator"]) == (False, True)
    [event] = consent.events(EventType.EMERGENCY_OPPOSITIONS_SET)
    assert event.data == {"oppose_emergency": "false", "oppose_regulator": "true"}


def test_emergency_oppositions_need_both_answers(consent: Consent) -> None:
    ins, holder = consent.patient()
    with pytest.raises(InvalidInput) as missing:
        consent.service.set_emergency_oppositions(
            consent.token(holder), ins, {"oppose_emergency": True}
        )
    assert fields(missing) == ["oppose_regulator"]
    assert consent.events(EventType.EMERGENCY_OPPOSITIONS_SET) == []


def test_an_occupational_doctor_reads_only_with_the_patients_explicit_consent(
    consent: Consent,
) -> None:
    ins, holder = consent.patient()
    occupational = consent.professional("10", Role.OCCUPATIONAL_PHYSICIAN)
    consent.service.record_consent(consent.token(occupational), ins)  # recorded by themselves
    assert consent.grant(occupational, ins)["rule"] == "R-OCCUPATIONAL"
    answer = consent.service.authorise_occupational_doctor(
        consent.token(holder), ins, {"professional_id": occupational.id}
    )
    assert answer == {"professional_id": occupational.id, "status": "authorised"}
    assert consent.grant(occupational, ins)["rule"] == "R-OCCUPATIONAL-CONSENT"
    assert len(consent.events(EventType.OCCUPATIONAL_CONSENT_GIVEN)) == 1


def test_a_professional_cannot_authorise_an_occupational_doctor(consent: Consent) -> None:
    ins, _ = consent.patient()
    occupational = consent.professional("10", Role.OCCUPATIONAL_PHYSICIAN)
    with pytest.raises(AccessDenied) as refused:
        consent.service.authorise_occupational_doctor(
            consent.token(occupational), ins, {"professional_id": occupational.id}
        )
    assert rule(refused) == "R-HOLDER-MANAGES"
    assert consent.events(EventType.OCCUPATIONAL_CONSENT_GIVEN) == []


def test_the_settings_page_lists_who_is_authorised(consent: Consent) -> None:
    ins, holder = consent.patient()
    doctor, nurse, proposer = (consent.professional(p) for p in ("10", "60", "10"))
    consent.service.record_consent(consent.token(doctor), ins)
    consent.service.join_care_team(consent.token(nurse), ins, {"patient_informed": True})
    consent.service.declare_medecin_traitant(consent.token(proposer), ins, {})
    consent.service.block(consent.token(holder), ins, {"professional_id": "rpps:10000000017"})
    settings = consent.service.settings(consent.token(holder), ins)
    assert [c["professional_id"] for c in settings["consents"]] == [doctor.id]
    assert [c["professional_id"] for c in settings["care_team"]] == [nurse.id]
    assert [p["professional_id"] for p in settings["medecin_traitant_proposals"]] == [proposer.id]
    assert settings["blocked"] == ["rpps:10000000017"] and settings["medecin_traitant"] is None


def test_only_the_patients_side_reads_the_settings(consent: Consent) -> None:
    ins, _ = consent.patient()
    doctor = consent.professional()
    with pytest.raises(AccessDenied) as refused:
        consent.service.settings(consent.token(doctor), ins)
    assert rule(refused) == "R-HOLDER-MANAGES"
    assert [e.rule for e in consent.events(EventType.ACCESS_DENIED)] == ["R-HOLDER-MANAGES"]
