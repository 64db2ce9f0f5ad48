"""The access rules: pure functions from facts to a grant. No broker, no store, no clock.

Each rule has a name (R-...) that the grant carries, the audit trail records and a test is named
after. Deny is the default: an actor gets something only when a rule below gives it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from services.common.actors import Actor, ActorKind
from services.common.codes import CATEGORIES
from services.common.grants import Action, Grant
from services.consent.matrix import Matrix

PATIENT_CATEGORY = "90"  # "documents déposés par le patient": written by the patient only
FEED_CATEGORY = "60"  # "données de remboursement": written by the Assurance Maladie feed only


@dataclass(frozen=True)
class Facts:
    """What the store knows that matters for one actor and one patient."""

    ins: str
    patient_id: str
    has_consent: bool = False  # an active consent of the patient for this professional
    # When the actor is a legal representative of this patient (a minor): the minor's 18th birthday.
    represented_until: date | None = None
    suspended: bool = False  # the actor's account was suspended after their token was issued


MASKED_FROM_PROFESSIONALS = "MASQUE_PS"
INVISIBLE_TO_PATIENT = "INVISIBLE_PATIENT"
INVISIBLE_TO_REPRESENTATIVES = "INVISIBLE_REPRESENTANTS_LEGAUX"


def hidden_from(actor: Actor, facts: Facts) -> tuple[str, ...]:
    """The visibility codes that hide a document from this actor (its author always sees it)."""
    if actor.kind is ActorKind.PATIENT and actor.ins != facts.ins:
        return (INVISIBLE_TO_PATIENT, INVISIBLE_TO_REPRESENTATIVES)
    if actor.kind is ActorKind.PATIENT:
        return (INVISIBLE_TO_PATIENT,)
    return (MASKED_FROM_PROFESSIONALS,)


def decide_for_any_patient(actor: Actor, action: Action, matrix: Matrix, now: datetime) -> Grant:
    """Rights that do not depend on the patient: the reimbursement feed writes class 60 for everyone
    (whose dossier is open; dossier checks that), and nobody else gets anything this way."""
    if actor.kind is ActorKind.SYSTEM and action is Action.WRITE:
        return Grant(allowed=True, action=action, rule="R-FEED-WRITES",
                     reason="the Assurance Maladie feed adds reimbursement data only",
                     categories=(FEED_CATEGORY,), matrix_version=matrix.version, decided_at=now)
    return Grant(allowed=False, action=action, rule="R-FEED-ONLY",
                 reason="only the reimbursement feed acts on many dossiers at once",
                 matrix_version=matrix.version, decided_at=now)


def decide(actor: Actor, action: Action, facts: Facts, matrix: Matrix, now: datetime) -> Grant:
    def grant(rule: str, reason: str, categories: frozenset[str] = frozenset()) -> Grant:
        return Grant(
            allowed=True, action=action, rule=rule, reason=reason, patient_id=facts.patient_id,
            categories=tuple(sorted(categories)), hidden_visibility=hidden_from(actor, facts),
            matrix_version=matrix.version, decided_at=now,
        )

    def deny(rule: str, reason: str) -> Grant:
        return Grant(
            allowed=False, action=action, rule=rule, reason=reason, patient_id=facts.patient_id,
            matrix_version=matrix.version, decided_at=now,
        )

    if facts.suspended:
        return deny("R-SUSPENDED", "this account is suspended")

    if actor.kind is ActorKind.PATIENT and actor.ins != facts.ins:
        if facts.represented_until is None:
            return deny("R-OTHER-PATIENT", "a patient may act only on their own dossier")
        if now.date() >= facts.represented_until:
            return deny("R-MAJORITY", "a legal representative's right ends at the minor's 18th birthday")
        if action is Action.WRITE:
            return grant("R-REPRESENTATIVE", "a legal representative adds to the minor's documents",
                         frozenset({PATIENT_CATEGORY}))
        return grant("R-REPRESENTATIVE", "the legal representative of a minor", frozenset(CATEGORIES))

    if actor.kind is ActorKind.PATIENT:
        if action is Action.WRITE:
            return grant("R-HOLDER-WRITES", "the holder adds to their own documents",
                         frozenset({PATIENT_CATEGORY}))
        return grant("R-HOLDER", "the holder of the dossier", frozenset(CATEGORIES))

    if actor.kind is ActorKind.PROFESSIONAL:
        if action is Action.OPEN:
            return grant("R-PRO-OPENS", "a professional may open a dossier with the patient's consent")
        if action is Action.MANAGE:
            return deny("R-HOLDER-MANAGES", "only the patient closes, reopens or deletes their dossier")
        if action is Action.READ_HISTORY:
            return deny("R-HISTORY-HOLDER", "only the holder sees the access history")
        if not facts.has_consent:
            return deny("R-NO-CONSENT", "the patient has not authorised this professional")
        if action is Action.READ:
            readable = matrix.readable(actor.profession)
            if not readable:
                return deny("R-MATRIX", "this profession may read no category")
            return grant("R-CONSENT", "authorised by the patient, within the profession's rights",
                         readable)
        writable = matrix.writable(actor.profession) - {PATIENT_CATEGORY, FEED_CATEGORY}
        if not writable:
            return deny("R-MATRIX", "this profession may add no category")
        return grant("R-CONSENT", "authorised by the patient, within the profession's rights",
                     writable)

    if actor.kind is ActorKind.COUNTER_AGENT:
        if action is Action.OPEN:
            return grant("R-COUNTER-OPENS", "an Assurance Maladie counter agent may open a dossier with the "
                         "patient's consent")
        return deny("R-NO-CONTENT", "Assurance Maladie agents never read or add content")

    if actor.kind is ActorKind.SYSTEM:
        if action is Action.WRITE:
            return grant("R-FEED-WRITES", "the Assurance Maladie feed adds reimbursement data only",
                         frozenset({FEED_CATEGORY}))
        return deny("R-NO-CONTENT", "a system feed never reads content")

    return deny("R-DENY-DEFAULT", "no rule gives this actor access")
