"""consent: every access to a dossier is decided here, with the rule that decided and why.

The patient's side (the holder or their legal representative) sets things up: médecin traitant
ends, blocks, emergency oppositions, occupational consent, withdrawals. Professionals record the
patient's consent to their own access, join the care team, propose themselves as médecin traitant
(the patient confirms; the Assurance Maladie feed declares it directly), and break the glass in an
emergency.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

from nameko.extensions import DependencyProvider

from services.common.actors import Actor, ActorKind, Role
from services.common.clock import Clock
from services.common.entrypoints import rpc
from services.common.errors import AccessDenied, Conflict, InvalidInput
from services.common.events import Event, EventType, Outcome
from services.common.grants import Action, Grant
from services.common.health import HealthMixin
from services.common.identifiers import require_ins
from services.common.majority import eighteenth_birthday
from services.common.rpc_client import ServiceRpc
from services.common.rulebook import explain
from services.common.settings import Secret, Settings
from services.common.settings_provider import SettingsProvider
from services.common.store import StoreProvider
from services.common.subscriptions import subscribe
from services.common.tokens import verify
from services.common.validation import parse
from services.consent import matrix, rules
from services.consent.records import Authorisation as AuthorisationRecord
from services.consent.records import EmergencyRecord, Kind, PatientSettings
from services.consent.schemas import (
    AccessSettings,
    Authorisation,
    Blocks,
    BreakGlass,
    CareTeamJoined,
    CareTeamMembership,
    CareTeamObjection,
    ConsentRecorded,
    ConsentWithdrawn,
    DocumentFacts,
    EmergencyOppositions,
    MedecinTraitantChange,
    MedecinTraitantDeclaration,
    MedecinTraitantDeclared,
    MedecinTraitantEnded,
    MedecinTraitantProposed,
    OccupationalConsent,
    ProfessionalRef,
    ProfessionalSince,
)
from services.consent.store import ConsentRecords, ConsentStore
from services.identity.client import IdentityClient

EMERGENCY_DURATION = timedelta(hours=1)
MEDECIN = "10"


def _action(value: str) -> Action:
    try:
        return Action(value)
    except ValueError:
        allowed = ", ".join(a.value for a in Action)
        raise InvalidInput.for_field("action", f"must be one of {allowed}") from None


def _refuse(rule: str) -> AccessDenied:
    return AccessDenied.by_rule(rule, explain(rule)[1])


class PatientIds(DependencyProvider):  # type: ignore[misc]
    """INS -> patient id, as identity answered it, kept for the container's life: one RPC hop less on every
    decision. Safe because the pair never changes once a patient is registered (identity never deletes a
    patient nor changes their INS or id); an unknown INS is never kept, so a later registration is seen."""

    LIMIT = 200_000  # about 20 MB; forgotten all at once when full (they are asked again)

    def setup(self) -> None:
        self.known: dict[str, str] = {}

    def get_dependency(self, worker_ctx: object) -> dict[str, str]:
        if len(self.known) > self.LIMIT:
            self.known = {}
        return self.known


class ConsentService(HealthMixin):
    name = "consent"

    # not `settings`: that is the name of an RPC method of this service (the patient's access settings)
    configured: Settings = SettingsProvider(needs=(Secret.TOKEN_PUBLIC_KEYS,))
    store: ConsentRecords = StoreProvider(ConsentStore)
    identity: IdentityClient = ServiceRpc("identity")
    patient_ids: dict[str, str] = PatientIds()
    clock: Clock = Clock()

    def _patient_id(self, ins: str) -> str:
        known = self.patient_ids.get(ins)
        if known is None:
            known = self.patient_ids[ins] = str(self.identity.patient_id_for(ins))
        return known

    # Decisions

    def _facts(self, actor: Actor, ins: str, now: datetime) -> rules.Facts:
        patient_id = self._patient_id(ins)
        facts = self.store.facts_for(ins, patient_id, actor.id, now)
        if actor.kind is ActorKind.PATIENT and actor.ins != ins:
            minor_birth_date = self.identity.represented_birth_date(actor.id, patient_id)
            if minor_birth_date is not None:
                until = eighteenth_birthday(date.fromisoformat(minor_birth_date))
                facts = rules.Facts(**{**facts.__dict__, "represented_until": until})
        return facts

    def _decide(self, actor: Actor, ins: str, action: Action) -> tuple[Grant, rules.Facts]:
        now = self.clock.now()
        facts = self._facts(actor, ins, now)
        return rules.decide(actor, action, facts, matrix.in_force(now), now), facts

    @rpc(callers=("dossier", "audit", "notify"))
    def grant(self, token: str, ins: str, action: str) -> Grant:
        """What this actor may do in this patient's dossier, the rule that decided, and why."""
        actor = verify(token, self.configured)
        decision, _ = self._decide(actor, require_ins(ins), _action(action))
        return decision

    @rpc(callers=("dossier",))
    def decide(self, token: str, ins: str, action: str, document: DocumentFacts) -> Grant:
        """The decision for one document ({category, visibility, author_id}) rather than a whole dossier."""
        actor = verify(token, self.configured)
        decision, _ = self._decide(actor, require_ins(ins), _action(action))
        if decision.allowed:
            decision = decision.for_document(
                actor.id, document.category, document.visibility, document.author_id
            )
        return decision

    @rpc(callers=("dossier",))
    def grant_for_any_patient(self, token: str, action: str) -> Grant:
        """A right that does not depend on the patient (the reimbursement feed's), and why."""
        actor = verify(token, self.configured)
        now = self.clock.now()
        decision = rules.decide_for_any_patient(actor, _action(action), matrix.in_force(now), now)
        if decision.allowed and self.store.suspended(actor.id):
            decision = decision.refused("R-SUSPENDED")
        return decision

    @subscribe("consent", "identity")
    def on_account_status_changed(self, payload: object) -> None:  # validated by received_event
        event = self.store.received_event(payload)
        if event is None:
            return
        # When it changed is when identity's event happened (its data repeats it, for older readers).
        self.store.apply_status(event.data["actor_id"], event.data["status"], event.occurred_at)

    # Helpers for the operations below

    def _refuse_traced(
        self, actor: Actor, patient_id: str | None, rule: str, action: str
    ) -> AccessDenied:
        """Trace a refusal decided here (it reaches the patient's trail through the outbox), then return
        the error to raise. Decisions merely asked for (grant, decide) are traced by the asking service."""
        event = Event.of(
            EventType.ACCESS_DENIED,
            self.name,
            self.clock.now(),
            actor,
            outcome=Outcome.DENIED,
            rule=rule,
            patient_id=patient_id,
            data={"action": action},
        )
        self.store.record_refusal(event)
        return _refuse(rule)

    def _patient_side(self, token: str, ins: str) -> tuple[Actor, str, Grant]:
        """The holder or their representative, allowed to set up the dossier (else AccessDenied, traced)."""
        actor = verify(token, self.configured)
        ins = require_ins(ins)
        decision, _ = self._decide(actor, ins, Action.MANAGE)
        if not decision.allowed:
            raise self._refuse_traced(
                actor, decision.patient_id, decision.rule, Action.MANAGE.value
            )
        return actor, ins, decision

    def _professional(self, token: str, ins: str) -> tuple[Actor, str, str]:
        actor = verify(token, self.configured)
        ins = require_ins(ins)
        patient_id = self._patient_id(ins)
        if actor.kind is not ActorKind.PROFESSIONAL:
            raise self._refuse_traced(actor, patient_id, "R-CONSENT-RECORDER", "record_consent")
        return actor, ins, patient_id

    def _settings(self, ins: str, patient_id: str) -> PatientSettings:
        """The patient's settings, naming the patient when they were never set."""
        settings = self.store.patient_settings(ins)
        return (
            settings
            if settings.patient_id is not None
            else replace(settings, patient_id=patient_id)
        )

    def _event(self, kind: EventType, actor: Actor, patient_id: str | None, **data: str) -> Event:
        return Event.of(kind, self.name, self.clock.now(), actor, patient_id=patient_id, data=data)

    def _authorisation(
        self,
        kind: Kind,
        actor: Actor,
        ins: str,
        patient_id: str,
        professional_id: str,
        until: datetime | None,
        organisation: str | None = None,
        patient_informed: bool = False,
    ) -> AuthorisationRecord:
        return AuthorisationRecord(
            kind=kind,
            ins=ins,
            patient_id=patient_id,
            professional_id=professional_id,
            recorded_at=self.clock.now(),
            recorded_by=actor.id,
            until=until,
            organisation=organisation,
            patient_informed=patient_informed,
        )

    # Professionals

    @rpc
    def record_consent(
        self, token: str, ins: str, payload: Authorisation | None = None
    ) -> ConsentRecorded:
        """A professional records the patient's (oral) consent to their access, optionally until a date."""
        actor, ins, patient_id = self._professional(token, ins)
        request = payload or Authorisation()
        until = (
            datetime.combine(request.until, datetime.min.time()).replace(
                tzinfo=self.clock.now().tzinfo
            )
            if request.until
            else None
        )
        record = self._authorisation(Kind.CONSENT, actor, ins, patient_id, actor.id, until)
        event = self._event(EventType.CONSENT_RECORDED, actor, patient_id)
        created = self.store.authorise(record, event)
        stored = self.store.authorisation(Kind.CONSENT, ins, actor.id) or record
        return ConsentRecorded(
            professional_id=actor.id,
            recorded_at=stored.recorded_at.isoformat(),
            created=created,
            until=request.until,
        )

    @rpc
    def join_care_team(self, token: str, ins: str, payload: CareTeamMembership) -> CareTeamJoined:
        """A professional of an organisation caring for the patient joins the care team, having informed
        the patient (who may object at any time)."""
        actor, ins, patient_id = self._professional(token, ins)
        now = self.clock.now()
        until = now + timedelta(days=payload.days)
        record = self._authorisation(
            Kind.CARE_TEAM,
            actor,
            ins,
            patient_id,
            actor.id,
            until,
            organisation=actor.organisation,
            patient_informed=True,
        )
        self.store.authorise(record, self._event(EventType.CARE_TEAM_JOINED, actor, patient_id))
        return CareTeamJoined(professional_id=actor.id, until=until.isoformat())

    @rpc
    def declare_medecin_traitant(
        self, token: str, ins: str, payload: MedecinTraitantDeclaration
    ) -> MedecinTraitantChange:
        """A médecin proposes themselves as médecin traitant: a pending proposal that grants nothing until
        the patient confirms it. The Assurance Maladie feed (a system actor) declares the médecin the
        patient declared to their fund (`professional_id`), which takes effect at once."""
        actor = verify(token, self.configured)
        ins = require_ins(ins)
        patient_id = self._patient_id(ins)
        if actor.kind is ActorKind.SYSTEM:
            return self._declare_from_feed(actor, ins, patient_id, payload.professional_id)
        if actor.kind is not ActorKind.PROFESSIONAL:
            raise self._refuse_traced(
                actor, patient_id, "R-MT-DECLARER", "declare_medecin_traitant"
            )
        if payload.professional_id not in (None, actor.id):
            raise InvalidInput.for_field("professional_id", "a médecin can only propose themselves")
        if actor.profession != MEDECIN:
            raise InvalidInput.for_field(
                "profession", "only a médecin (profession 10) can be médecin traitant"
            )
        settings = self._settings(ins, patient_id)
        if actor.id in settings.blocked:
            raise self._refuse_traced(actor, patient_id, "R-BLOCKED", "declare_medecin_traitant")
        if settings.medecin_traitant == actor.id:
            raise Conflict(
                "this médecin is already the médecin traitant", [{"field": "professional_id"}]
            )
        now = self.clock.now()
        event = self._event(
            EventType.MEDECIN_TRAITANT_PROPOSED, actor, patient_id, professional_id=actor.id
        )
        self.store.save_settings(settings.proposed_by(actor.id, now), event)
        return MedecinTraitantProposed(professional_id=actor.id, proposed_at=now.isoformat())

    def _declare_from_feed(
        self, actor: Actor, ins: str, patient_id: str, professional_id: str | None
    ) -> MedecinTraitantDeclared:
        """The feed's identity is the system actor the reimbursement rules know (R-FEED-WRITES)."""
        now = self.clock.now()
        decision = rules.decide_for_any_patient(actor, Action.WRITE, matrix.in_force(now), now)
        if not decision.allowed or self.store.suspended(actor.id):
            raise self._refuse_traced(
                actor, patient_id, "R-MT-DECLARER", "declare_medecin_traitant"
            )
        if professional_id is None:
            raise InvalidInput.for_field(
                "professional_id", "is required: the médecin the patient declared"
            )
        if self.identity.professional_contact(professional_id).get("profession") != MEDECIN:
            raise InvalidInput.for_field(
                "professional_id", "must be a registered médecin (profession 10)"
            )
        settings = self._settings(ins, patient_id)
        if professional_id in settings.blocked:
            raise Conflict("the patient blocked this médecin", [{"field": "professional_id"}])
        return self._change_medecin_traitant(actor, patient_id, professional_id, settings)

    def _change_medecin_traitant(
        self, actor: Actor, patient_id: str, professional_id: str, settings: PatientSettings
    ) -> MedecinTraitantDeclared:
        """The médecin traitant becomes `professional_id` (the previous one's period ends); the event names
        both, so that the patient and the previous médecin traitant are told."""
        previous = settings.medecin_traitant
        if previous == professional_id:  # declared again (the feed resending): nothing changes
            return MedecinTraitantDeclared(
                medecin_traitant=professional_id,
                previous=previous,
                since=settings.history[-1].start.isoformat() if settings.history else None,
            )
        now = self.clock.now()
        event = self._event(
            EventType.MEDECIN_TRAITANT_DECLARED,
            actor,
            patient_id,
            professional_id=professional_id,
            previous=previous or "",
        )
        self.store.save_settings(settings.with_medecin_traitant(professional_id, now), event)
        return MedecinTraitantDeclared(
            medecin_traitant=professional_id, previous=previous, since=now.isoformat()
        )

    @rpc
    def break_glass(self, token: str, ins: str, payload: BreakGlass) -> Grant:
        """Emergency access: the patient cannot consent and their health is at risk. Read and add for an
        hour (the SAMU regulator: read only), unless the patient opposed it; the patient is told."""
        actor = verify(token, self.configured)
        ins = require_ins(ins)
        reason = payload.reason
        now = self.clock.now()
        facts = self._facts(actor, ins, now)
        settings = self.store.patient_settings(ins)
        until = now + EMERGENCY_DURATION
        refusal = rules.may_break_glass(
            actor,
            facts,
            settings.oppose_emergency,
            settings.oppose_regulator,
            matrix.in_force(now),
            now,
            until,
        )
        if (
            refusal
        ):  # decided before anything is recorded: a refusal is traced, no access, nobody told
            raise self._refuse_traced(actor, facts.patient_id, refusal, "break_glass")
        regulator = Role.SAMU_REGULATOR in actor.roles
        event = self._event(
            EventType.EMERGENCY_ACCESS_STARTED,
            actor,
            facts.patient_id,
            regulator=str(regulator).lower(),
            until=until.isoformat(),
            medecin_traitant=settings.medecin_traitant or "",
        )
        self.store.start_emergency(
            EmergencyRecord(
                event_id=event.event_id,
                ins=ins,
                patient_id=facts.patient_id,
                professional_id=actor.id,
                regulator=regulator,
                reason=reason,
                started_at=now,
                until=until,
            ),
            event,
        )
        decision, _ = self._decide(actor, ins, Action.READ)
        return decision

    # The patient's side

    @rpc
    def withdraw_consent(
        self, token: str, ins: str, payload: dict[str, object] | None = None
    ) -> ConsentWithdrawn:
        """The patient withdraws a professional's consent, or a professional withdraws their own."""
        # Parsed here, not at the boundary: a professional's payload is ignored (they withdraw their own), and
        # only the patient's side names a professional_id.
        actor = verify(token, self.configured)
        if actor.kind is ActorKind.PROFESSIONAL:
            ins, professional_id = require_ins(ins), actor.id
        else:
            actor, ins, _ = self._patient_side(token, ins)
            professional_id = parse(ProfessionalRef, payload or {}).professional_id
        patient_id = self._patient_id(ins)
        event = self._event(
            EventType.CONSENT_WITHDRAWN, actor, patient_id, professional_id=professional_id
        )
        if not self.store.withdraw(
            Kind.CONSENT, ins, professional_id, actor.id, self.clock.now(), event
        ):
            raise Conflict(
                "no active consent for this professional", [{"field": "professional_id"}]
            )
        return ConsentWithdrawn(professional_id=professional_id)

    @rpc
    def object_to_care_team(
        self, token: str, ins: str, payload: ProfessionalRef
    ) -> CareTeamObjection:
        """The patient objects to a care team member's access: it ends now."""
        actor, ins, grant = self._patient_side(token, ins)
        professional_id = payload.professional_id
        event = self._event(
            EventType.CARE_TEAM_OBJECTED, actor, grant.patient_id, professional_id=professional_id
        )
        if not self.store.withdraw(
            Kind.CARE_TEAM, ins, professional_id, actor.id, self.clock.now(), event
        ):
            raise Conflict(
                "this professional is not in the care team", [{"field": "professional_id"}]
            )
        return CareTeamObjection(professional_id=professional_id)

    @rpc
    def confirm_medecin_traitant(
        self, token: str, ins: str, payload: ProfessionalRef
    ) -> MedecinTraitantDeclared:
        """The patient (or their representative) confirms a médecin's pending proposal: they become the
        médecin traitant now, and the previous one (if any) is no longer."""
        actor, ins, grant = self._patient_side(token, ins)
        professional_id = payload.professional_id
        settings = self._settings(ins, str(grant.patient_id))
        if professional_id not in {p.professional_id for p in settings.proposals}:
            raise Conflict(
                "this médecin has not proposed to be médecin traitant",
                [{"field": "professional_id"}],
            )
        if professional_id in settings.blocked:
            raise Conflict(
                "this médecin is blocked: unblock them first", [{"field": "professional_id"}]
            )
        return self._change_medecin_traitant(
            actor, str(grant.patient_id), professional_id, settings
        )

    @rpc
    def end_medecin_traitant(self, token: str, ins: str) -> MedecinTraitantEnded:
        actor, ins, grant = self._patient_side(token, ins)
        settings = self._settings(ins, str(grant.patient_id))
        if settings.medecin_traitant is None:
            raise Conflict("no médecin traitant is declared", [{"field": "medecin_traitant"}])
        event = self._event(
            EventType.MEDECIN_TRAITANT_ENDED,
            actor,
            grant.patient_id,
            previous=settings.medecin_traitant,
        )
        self.store.save_settings(settings.without_medecin_traitant(self.clock.now()), event)
        return MedecinTraitantEnded()

    @rpc
    def block(self, token: str, ins: str, payload: ProfessionalRef) -> Blocks:
        """The patient blocks a professional: they see nothing, emergency access included."""
        return self._set_blocked(token, ins, payload, True)

    @rpc
    def unblock(self, token: str, ins: str, payload: ProfessionalRef) -> Blocks:
        return self._set_blocked(token, ins, payload, False)

    def _set_blocked(self, token: str, ins: str, payload: ProfessionalRef, block: bool) -> Blocks:
        actor, ins, grant = self._patient_side(token, ins)
        professional_id = payload.professional_id
        settings = self._settings(ins, str(grant.patient_id))
        if block and settings.medecin_traitant == professional_id:
            raise Conflict(explain("R-BLOCK-MT")[1], [{"rule": "R-BLOCK-MT"}])
        changed = settings.with_block(professional_id, block)
        kind = EventType.PROFESSIONAL_BLOCKED if block else EventType.PROFESSIONAL_UNBLOCKED
        event = self._event(kind, actor, grant.patient_id, professional_id=professional_id)
        self.store.save_settings(changed, event)
        return Blocks(blocked=list(changed.blocked))

    @rpc
    def set_emergency_oppositions(
        self, token: str, ins: str, payload: EmergencyOppositions
    ) -> EmergencyOppositions:
        """The patient opposes (or allows) each kind of emergency access separately; both allowed at first."""
        actor, ins, grant = self._patient_side(token, ins)
        event = self._event(
            EventType.EMERGENCY_OPPOSITIONS_SET,
            actor,
            grant.patient_id,
            oppose_emergency=str(payload.oppose_emergency).lower(),
            oppose_regulator=str(payload.oppose_regulator).lower(),
        )
        settings = replace(
            self._settings(ins, str(grant.patient_id)),
            oppose_emergency=payload.oppose_emergency,
            oppose_regulator=payload.oppose_regulator,
        )
        self.store.save_settings(settings, event)
        return EmergencyOppositions(
            oppose_emergency=settings.oppose_emergency, oppose_regulator=settings.oppose_regulator
        )

    @rpc
    def authorise_occupational_doctor(
        self, token: str, ins: str, payload: ProfessionalRef
    ) -> OccupationalConsent:
        """The patient's explicit consent to an occupational doctor (médecin du travail)."""
        actor, ins, grant = self._patient_side(token, ins)
        professional_id = payload.professional_id
        record = self._authorisation(
            Kind.OCCUPATIONAL_CONSENT, actor, ins, str(grant.patient_id), professional_id, None
        )
        event = self._event(
            EventType.OCCUPATIONAL_CONSENT_GIVEN,
            actor,
            grant.patient_id,
            professional_id=professional_id,
        )
        self.store.authorise(record, event)
        return OccupationalConsent(professional_id=professional_id)

    @rpc
    def settings(self, token: str, ins: str) -> AccessSettings:
        """What the patient has set up and who is authorised, for the patient's side."""
        _, ins, _ = self._patient_side(token, ins)
        now = self.clock.now()
        settings = self.store.patient_settings(ins)

        def who(kind: Kind) -> list[ProfessionalSince]:
            return [
                ProfessionalSince(
                    professional_id=r.professional_id, since=r.recorded_at.isoformat()
                )
                for r in self.store.authorisations(kind, ins, now)
            ]

        return AccessSettings(
            medecin_traitant=settings.medecin_traitant,
            blocked=list(settings.blocked),
            medecin_traitant_proposals=[
                ProfessionalSince(professional_id=p.professional_id, since=p.at.isoformat())
                for p in settings.proposals
            ],
            oppose_emergency=settings.oppose_emergency,
            oppose_regulator=settings.oppose_regulator,
            consents=who(Kind.CONSENT),
            care_team=who(Kind.CARE_TEAM),
            occupational_consents=who(Kind.OCCUPATIONAL_CONSENT),
        )
