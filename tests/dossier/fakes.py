"""What the dossier service depends on besides its store and clock, as a small typed stand-in: consent,
answering grants as the real one shapes them (services/common/grants.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.common.actors import ActorKind
from services.common.codes import CATEGORIES
from services.common.grants import Action, Grant
from services.common.rulebook import explain
from services.common.settings import Settings
from services.common.tokens import verify

HIDDEN_FROM = {
    ActorKind.PATIENT: ("INVISIBLE_PATIENT",),
    ActorKind.PROFESSIONAL: ("MASQUE_PS",),
}


@dataclass
class FakeConsent:
    """consent as the dossier service asks it. The holder may do everything in their own dossier; a
    professional may, in a dossier of a known patient, read and write (never manage) the classes of their
    matrix row (every class unless `rows` narrows it), unless `refused` names the rule that refuses them; a system
    client may write the reimbursement feed."""

    patients: dict[str, str] = field(
        default_factory=dict
    )  # INS -> patient id, as identity knows it
    rows: dict[str, tuple[str, ...]] = field(default_factory=dict)  # professional id -> classes
    refused: dict[str, str] = field(default_factory=dict)  # actor id -> the rule refusing them

    def grant(self, token: str, ins: str, action: str) -> dict[str, Any]:
        actor = verify(token, Settings.load())
        classes = self.rows.get(actor.id, tuple(CATEGORIES))
        rule = self.refused.get(actor.id)
        if actor.kind is ActorKind.PATIENT:
            rule = rule or (None if actor.ins == ins else "R-OTHER-PATIENT")
            allowed_by = "R-HOLDER"
        else:
            if ins not in self.patients:
                rule = rule or "R-UNKNOWN-PATIENT"
            elif action == Action.MANAGE.value:
                rule = rule or "R-HOLDER-MANAGES"  # managing the dossier is the patient's side's
            allowed_by = "R-CARE-TEAM"
        return self._grant(
            Action(action),
            rule or allowed_by,
            rule is None,
            self.patients.get(ins),
            classes,
            actor.kind,
        )

    def grant_for_any_patient(self, token: str, action: str) -> dict[str, Any]:
        actor = verify(token, Settings.load())
        allowed = actor.kind is ActorKind.SYSTEM and actor.id not in self.refused
        rule = "R-FEED-WRITES" if allowed else self.refused.get(actor.id, "R-DENY-DEFAULT")
        return self._grant(Action(action), rule, allowed, None, ("60",), actor.kind)

    @staticmethod
    def _grant(
        action: Action,
        rule: str,
        allowed: bool,
        patient_id: str | None,
        classes: tuple[str, ...],
        kind: ActorKind,
    ) -> dict[str, Any]:
        french, english = explain(rule)
        grant = Grant(
            allowed=allowed,
            action=action,
            rule=rule,
            reason=english,
            reason_fr=french,
            patient_id=patient_id,
            categories=classes if allowed else (),
            visible_categories=classes if allowed else (),
            hidden_visibility=HIDDEN_FROM.get(kind, ()),
            decided_at=datetime.now().astimezone(),
        )
        return grant.model_dump(mode="json")  # as it travels over the bus
