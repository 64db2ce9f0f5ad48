"""How the facts a decision reads are made from the records the store holds: pure, so that the Mongo store
(services/consent/store.py) and the in-memory one (services/consent/memory.py) answer alike."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from services.common.errors import Conflict
from services.consent.records import Authorisation, EmergencyRecord, Kind, PatientSettings
from services.consent.rules import EmergencyAccess, Facts

SUSPENDED = "suspended"  # the account status, as identity's events name it


def suspended(status: str | None) -> bool:
    return status == SUSPENDED


def facts_of(
    ins: str,
    patient_id: str,
    actor_id: str,
    now: datetime,
    authorisations: Iterable[Authorisation],
    settings: PatientSettings,
    emergency: EmergencyRecord | None,
    status: str | None,
) -> Facts:
    """`authorisations`: this actor's on this patient's dossier (any kind, active or not); `emergency`: their
    latest emergency access to it; `status`: their account's, as last heard from identity."""
    active = {a.kind for a in authorisations if a.active(now)}
    return Facts(
        ins=ins,
        patient_id=patient_id,
        has_consent=Kind.CONSENT in active,
        in_care_team=Kind.CARE_TEAM in active,
        occupational_consent=Kind.OCCUPATIONAL_CONSENT in active,
        is_medecin_traitant=settings.medecin_traitant == actor_id,
        blocked=actor_id in settings.blocked,
        emergency=EmergencyAccess(regulator=emergency.regulator, expires_at=emergency.until)
        if emergency is not None and emergency.until > now
        else None,
        suspended=suspended(status),
    )


def settings_changed_meanwhile() -> Conflict:
    """Settings written back over others than those read (or first settings written twice)."""
    return Conflict(
        "the patient's settings changed meanwhile; nothing was changed, retry",
        [{"field": "settings"}],
    )
