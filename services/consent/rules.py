"""The access rules: pure functions from facts to a grant. No broker, no store, no clock.

Each rule has an id (services/common/rulebook.py) that the grant carries with its explanation in
French and English, the audit trail records, and a test is named after. Deny is the default: an
actor gets something only when a rule below gives it. Order matters and reads like domain.md:
suspended, then the patient's side, then blocked professionals (emergency included), then the basis
of a professional's access (occupational consent, médecin traitant, consent, care team, emergency),
then the matrix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from services.common.actors import Actor, ActorKind, Role
from services.common.codes import CATEGORIES
from services.common.grants import Action, Grant
from services.common.rulebook import explain
from services.consent.matrix import Matrix

PATIENT_CATEGORY = "90"  # "documents déposés par le patient": written by the patient only
FEED_CATEGORY = "60"  # "données de remboursement": written by the Assurance Maladie feed only


@dataclass(frozen=True)
class EmergencyAccess:
    """A running "bris de glace" access of this professional to this dossier."""

    regulator: bool  # the SAMU regulator's is read-only
    expires_at: datetime


@dataclass(frozen=True)
class Facts:
    """What the store knows that matters for one actor and one patient (one read each)."""

    ins: str
    patient_id: str
    has_consent: bool = False  # an active, unexpired consent of the patient for this professional
    in_care_team: bool = (
        False  # an active care team membership, the patient informed and not objecting
    )
    is_medecin_traitant: bool = False
    blocked: bool = False  # the patient blocked this professional
    occupational_consent: bool = False  # the patient's explicit consent to this occupational doctor
    emergency: EmergencyAccess | None = None
    # When the actor is a legal representative of this patient (a minor): the minor's 18th birthday.
    represented_until: date | None = None
    suspended: bool = False  # the actor's account was suspended after their token was issued


MASKED_FROM_PROFESSIONALS = "MASQUE_PS"
INVISIBLE_TO_PATIENT = "INVISIBLE_PATIENT"
INVISIBLE_TO_REPRESENTATIVES = "INVISIBLE_REPRESENTANTS_LEGAUX"


def hidden_from(actor: Actor, facts: Facts, rule: str) -> tuple[str, ...]:
    """The visibility codes that hide a document from this actor under this rule (its author always
    sees it). Only access as médecin traitant sees masked documents, whatever else the actor is."""
    if actor.kind is ActorKind.PATIENT and actor.ins != facts.ins:
        return (INVISIBLE_TO_PATIENT, INVISIBLE_TO_REPRESENTATIVES)
    if actor.kind is ActorKind.PATIENT:
        return (INVISIBLE_TO_PATIENT,)
    if rule in ("R-MEDECIN-TRAITANT", "R-MT-HISTORY"):  # reading the dossier or its history
        return ()
    return (MASKED_FROM_PROFESSIONALS,)


def visible_to(actor: Actor, matrix: Matrix) -> frozenset[str]:
    """The classes whose documents exist for this actor at all: the patient's side sees every class,
    a professional their matrix row's reading, anyone else nothing."""
    if actor.kind is ActorKind.PATIENT:
        return frozenset(CATEGORIES)
    if actor.kind is ActorKind.PROFESSIONAL:
        return frozenset(matrix.readable(actor.profession))
    return frozenset()


def _decision(
    allowed: bool,
    rule: str,
    action: Action,
    facts: Facts | None,
    matrix: Matrix,
    now: datetime,
    **fields: Any,
) -> Grant:
    french, english = explain(rule)
    return Grant(
        allowed=allowed,
        action=action,
        rule=rule,
        reason=english,
        reason_fr=french,
        patient_id=facts.patient_id if facts else None,
        matrix_version=matrix.version,
        decided_at=now,
        **fields,
    )


def decide_for_any_patient(actor: Actor, action: Action, matrix: Matrix, now: datetime) -> Grant:
    """Rights that do not depend on the patient: the reimbursement feed writes class 60 for everyone
    (whose dossier is open; dossier checks that), and nobody else gets anything this way."""
    if actor.kind is ActorKind.SYSTEM and action is Action.WRITE:
        return _decision(
            True, "R-FEED-WRITES", action, None, matrix, now, categories=(FEED_CATEGORY,)
        )
    return _decision(False, "R-FEED-ONLY", action, None, matrix, now)


def decide(actor: Actor, action: Action, facts: Facts, matrix: Matrix, now: datetime) -> Grant:
    def grant(rule: str, categories: frozenset[str] = frozenset(), **fields: Any) -> Grant:
        return _decision(
            True,
            rule,
            action,
            facts,
            matrix,
            now,
            categories=tuple(sorted(categories)),
            visible_categories=tuple(sorted(visible_to(actor, matrix))),
            hidden_visibility=hidden_from(actor, facts, rule),
            **fields,
        )

    def deny(rule: str) -> Grant:
        return _decision(False, rule, action, facts, matrix, now)

    if facts.suspended:
        return deny("R-SUSPENDED")

    if actor.kind is ActorKind.PATIENT:
        if actor.ins != facts.ins:
            if facts.represented_until is None:
                return deny("R-OTHER-PATIENT")
            if now.date() >= facts.represented_until:
                return deny("R-MAJORITY")
            rule = "R-REPRESENTATIVE"
        else:
            rule = "R-HOLDER"
        if action is Action.WRITE:
            return grant(
                "R-HOLDER-WRITES" if rule == "R-HOLDER" else rule, frozenset({PATIENT_CATEGORY})
            )
        return grant(rule, frozenset(CATEGORIES))

    if actor.kind is ActorKind.PROFESSIONAL:
        return _professional(actor, action, facts, matrix, now, grant, deny)

    if actor.kind is ActorKind.COUNTER_AGENT:
        return grant("R-COUNTER-OPENS") if action is Action.OPEN else deny("R-NO-CONTENT")

    if actor.kind is ActorKind.SYSTEM:
        return (
            grant("R-FEED-WRITES", frozenset({FEED_CATEGORY}))
            if action is Action.WRITE
            else deny("R-NO-CONTENT")
        )

    return deny("R-DENY-DEFAULT")


def _professional(
    actor: Actor,
    action: Action,
    facts: Facts,
    matrix: Matrix,
    now: datetime,
    grant: Callable[..., Grant],
    deny: Callable[[str], Grant],
) -> Grant:
    if facts.blocked:
        return deny("R-BLOCKED")  # emergency included
    if action is Action.OPEN:
        return grant("R-PRO-OPENS")
    if action is Action.MANAGE:
        return deny("R-HOLDER-MANAGES")
    if action is Action.READ_HISTORY:
        return grant("R-MT-HISTORY") if facts.is_medecin_traitant else deny("R-HISTORY-HOLDER")

    emergency: dict[str, Any] = {}
    if Role.OCCUPATIONAL_PHYSICIAN in actor.roles:
        if not facts.occupational_consent:
            return deny("R-OCCUPATIONAL")
        basis = "R-OCCUPATIONAL-CONSENT"
    elif facts.is_medecin_traitant:
        basis = "R-MEDECIN-TRAITANT"
    elif facts.has_consent:
        basis = "R-CONSENT"
    elif facts.in_care_team:
        basis = "R-CARE-TEAM"
    elif facts.emergency is not None and facts.emergency.expires_at > now:
        if facts.emergency.regulator and action is Action.WRITE:
            return deny("R-EMERGENCY-READ-ONLY")
        basis = "R-REGULATOR-EMERGENCY" if facts.emergency.regulator else "R-EMERGENCY"
        emergency = {"emergency": True, "expires_at": facts.emergency.expires_at}
    else:
        return deny("R-NO-CONSENT")

    if action is Action.READ:
        categories = matrix.readable(actor.profession)
    else:
        categories = matrix.writable(actor.profession) - {PATIENT_CATEGORY, FEED_CATEGORY}
    if not categories:
        return deny("R-MATRIX")
    return grant(basis, categories, **emergency)


def may_break_glass(
    actor: Actor,
    facts: Facts,
    oppose_emergency: bool,
    oppose_regulator: bool,
    matrix: Matrix,
    now: datetime,
    until: datetime,
) -> str | None:
    """Why an emergency access is refused (a rule id), or None when it may start. Decided before anything
    is recorded: an access is started only when the emergency by itself would grant something (an
    occupational doctor, a profession whose matrix row reads nothing, anyone but a professional: refused)."""
    if facts.suspended:
        return "R-SUSPENDED"
    if actor.kind is not ActorKind.PROFESSIONAL:
        return "R-DENY-DEFAULT"
    if facts.blocked:
        return "R-BLOCKED"
    regulator = Role.SAMU_REGULATOR in actor.roles
    if (regulator and oppose_regulator) or (not regulator and oppose_emergency):
        return "R-EMERGENCY-OPPOSED"
    emergency_only = replace(
        facts,
        has_consent=False,
        in_care_team=False,
        is_medecin_traitant=False,
        occupational_consent=False,
        emergency=EmergencyAccess(regulator, until),
    )
    would = decide(actor, Action.READ, emergency_only, matrix, now)
    if not would.allowed:
        return would.rule
    return None if would.emergency else "R-DENY-DEFAULT"
