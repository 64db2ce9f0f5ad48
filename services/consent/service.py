"""consent: every access to a dossier is decided here, with the rule that decided."""

from __future__ import annotations

from datetime import date
from typing import Any

from nameko.rpc import ServiceRpc

from services.common.actors import ActorKind
from services.common.clock import Clock
from services.common.entrypoints import rpc
from services.common.errors import AccessDenied, InvalidInput
from services.common.events import Event, EventType
from services.common.grants import Action
from services.common.health import HealthMixin
from services.common.identifiers import require_ins
from services.common.majority import eighteenth_birthday
from services.common.store import StoreProvider
from services.common.subscriptions import subscribe
from services.common.tokens import verify
from services.consent import matrix, rules
from services.consent.store import ConsentStore, consent_id


def _action(value: Any) -> Action:
    try:
        return Action(value)
    except ValueError:
        allowed = ", ".join(a.value for a in Action)
        raise InvalidInput.for_field("action", f"must be one of {allowed}") from None


class ConsentService(HealthMixin):
    name = "consent"

    store: ConsentStore = StoreProvider(ConsentStore)
    identity = ServiceRpc("identity")
    clock: Clock = Clock()

    @rpc
    def grant(self, token: str, ins: str, action: str) -> dict[str, Any]:
        """What this actor may do in this patient's dossier, and why."""
        actor = verify(token)
        ins, wanted = require_ins(ins), _action(action)
        now = self.clock.now()
        patient_id = self.identity.patient_id_for(ins)
        has_consent = actor.kind is ActorKind.PROFESSIONAL and self.store.has_consent(ins, actor.id, now)
        represented_until = None
        if actor.kind is ActorKind.PATIENT and actor.ins != ins:
            minor_birth_date = self.identity.represented_birth_date(actor.id, patient_id)
            if minor_birth_date is not None:
                represented_until = eighteenth_birthday(date.fromisoformat(minor_birth_date))
        facts = rules.Facts(ins=ins, patient_id=patient_id, has_consent=has_consent,
                            represented_until=represented_until, suspended=self.store.suspended(actor.id))
        decision = rules.decide(actor, wanted, facts, matrix.in_force(now), now)
        return decision.model_dump(mode="json")

    @rpc
    def grant_for_any_patient(self, token: str, action: str) -> dict[str, Any]:
        """A right that does not depend on the patient (the reimbursement feed's), and why."""
        actor = verify(token)
        now = self.clock.now()
        decision = rules.decide_for_any_patient(actor, _action(action), matrix.in_force(now), now)
        if decision.allowed and self.store.suspended(actor.id):
            decision = decision.model_copy(update={"allowed": False, "rule": "R-SUSPENDED",
                                                   "reason": "this account is suspended"})
        return decision.model_dump(mode="json")

    @subscribe("consent", "identity")
    def on_account_status_changed(self, payload: dict[str, Any]) -> None:
        event = Event.model_validate(payload)
        self.store.apply_status(event.data["actor_id"], event.data["status"], int(event.data["changed_ms"]))

    @rpc
    def record_consent(self, token: str, ins: str) -> dict[str, Any]:
        """A professional records the patient's (oral) consent to their access."""
        actor = verify(token)
        ins = require_ins(ins)
        if actor.kind is not ActorKind.PROFESSIONAL:
            raise AccessDenied.by_rule(
                "R-CONSENT-RECORDER", "only a professional records a patient's consent to their access"
            )
        now = self.clock.now()
        patient_id = self.identity.patient_id_for(ins)
        record = {
            "_id": consent_id(ins, actor.id),
            "ins": ins,
            "patient_id": patient_id,
            "professional_id": actor.id,
            "recorded_by": actor.id,
            "recorded_at": now,
            "expires_at": None,
            "withdrawn_at": None,
        }
        event = Event.of(EventType.CONSENT_RECORDED, self.name, now, actor, patient_id=patient_id)
        created = self.store.record(record, event)
        stored = record if created else self.store.find(ins, actor.id)
        assert stored is not None
        return {
            "professional_id": actor.id,
            "recorded_at": stored["recorded_at"].isoformat(),
            "created": created,
        }
