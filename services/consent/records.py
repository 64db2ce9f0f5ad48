"""What consent records, as values: authorisations, the patient's settings, emergency accesses. The store turns
them into documents and back (services/consent/store.py); the changes the patient's side makes to their settings
are pure functions here, so that each is tested without a broker or a store."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum


class Kind(StrEnum):
    """What a fact is; the first part of its key in the store."""

    CONSENT = "consent"  # the patient's consent to a professional
    CARE_TEAM = "care_team"  # a care team membership
    OCCUPATIONAL_CONSENT = "occupational_consent"  # the patient's consent to an occupational doctor
    EMERGENCY = "emergency"  # a professional's latest emergency access, earlier ones kept inside
    SETTINGS = "settings"  # the patient's settings: médecin traitant, blocks, emergency oppositions
    STATUS = "status"  # an account's status, learnt from identity


AUTHORISATIONS = (Kind.CONSENT, Kind.CARE_TEAM, Kind.OCCUPATIONAL_CONSENT)


@dataclass(frozen=True)
class Authorisation:
    """A consent, a care team membership or an occupational consent: one shape."""

    kind: Kind
    ins: str
    patient_id: str
    professional_id: str
    recorded_at: datetime
    recorded_by: str
    until: datetime | None = None
    withdrawn_at: datetime | None = None
    organisation: str | None = None  # a care team member's
    patient_informed: bool = False  # a care team member informed the patient

    def active(self, at: datetime) -> bool:
        """Not withdrawn, started, not expired."""
        return (
            self.withdrawn_at is None
            and self.recorded_at <= at
            and (self.until is None or self.until > at)
        )


@dataclass(frozen=True)
class Period:
    """A médecin traitant's time as such."""

    professional_id: str
    start: datetime
    end: datetime | None = None


@dataclass(frozen=True)
class Proposal:
    """A médecin's pending proposal to be the médecin traitant (the patient confirms)."""

    professional_id: str
    at: datetime


@dataclass(frozen=True)
class PatientSettings:
    """What the patient (or their representative) has set up. `version` counts their changes, for writing
    back only over what was read (a concurrent change is never overwritten)."""

    ins: str
    patient_id: str | None = None
    medecin_traitant: str | None = None
    history: tuple[Period, ...] = ()
    proposals: tuple[Proposal, ...] = ()
    blocked: tuple[str, ...] = ()
    oppose_emergency: bool = False
    oppose_regulator: bool = False
    version: int | None = None  # None: never stored

    def proposed_by(self, professional_id: str, at: datetime) -> PatientSettings:
        others = tuple(p for p in self.proposals if p.professional_id != professional_id)
        return replace(self, proposals=(*others, Proposal(professional_id, at)))

    def with_medecin_traitant(self, professional_id: str, at: datetime) -> PatientSettings:
        """`professional_id` becomes the médecin traitant at `at`: the previous one's period ends, their
        proposal is no longer pending."""
        history = self.history
        if self.medecin_traitant is not None and history:
            history = (*history[:-1], replace(history[-1], end=at))
        return replace(
            self,
            medecin_traitant=professional_id,
            history=(*history, Period(professional_id, at)),
            proposals=tuple(p for p in self.proposals if p.professional_id != professional_id),
        )

    def without_medecin_traitant(self, at: datetime) -> PatientSettings:
        history = (*self.history[:-1], replace(self.history[-1], end=at)) if self.history else ()
        return replace(self, medecin_traitant=None, history=history)

    def with_block(self, professional_id: str, blocked: bool) -> PatientSettings:
        others = {p for p in self.blocked if p != professional_id}
        return replace(
            self, blocked=tuple(sorted(others | {professional_id} if blocked else others))
        )


@dataclass(frozen=True)
class EmergencyRecord:
    """One emergency access ("bris de glace"), its reason kept with it."""

    event_id: str
    ins: str
    patient_id: str
    professional_id: str
    regulator: bool
    reason: str
    started_at: datetime
    until: datetime
