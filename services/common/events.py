"""The envelope of every event on the bus, and the names of the events.

Events are past-tense facts. Payloads carry ids and codes only, never names or health content:
the audit trail and notifications are built from them, and they cross the broker.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.common.actors import Actor
from services.common.ids import new_id


class EventType(StrEnum):
    PATIENT_REGISTERED = "patient_registered"
    PROFESSIONAL_REGISTERED = "professional_registered"
    AGENT_REGISTERED = "agent_registered"
    SYSTEM_REGISTERED = "system_registered"
    LOGGED_IN = "logged_in"
    SESSION_ENDED = (
        "session_ended"  # logout or a replayed refresh token: its access tokens are refused
    )
    ACCOUNT_STATUS_CHANGED = "account_status_changed"
    CONTACT_CHANGED = "contact_changed"
    REPRESENTATIVE_ADDED = "representative_added"
    DOSSIER_OPENED = "dossier_opened"
    DOSSIER_CLOSED = "dossier_closed"
    DOSSIER_REOPENED = "dossier_reopened"
    DOSSIER_DELETION_REQUESTED = "dossier_deletion_requested"
    DOSSIER_PURGED = "dossier_purged"
    DOSSIER_KEY_REWRAPPED = "dossier_key_rewrapped"
    CONSENT_RECORDED = "consent_recorded"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    CARE_TEAM_JOINED = "care_team_joined"
    CARE_TEAM_OBJECTED = "care_team_objected"
    MEDECIN_TRAITANT_DECLARED = "medecin_traitant_declared"
    MEDECIN_TRAITANT_ENDED = "medecin_traitant_ended"
    MEDECIN_TRAITANT_PROPOSED = (
        "medecin_traitant_proposed"  # by a médecin; grants nothing until confirmed
    )
    PROFESSIONAL_BLOCKED = "professional_blocked"
    PROFESSIONAL_UNBLOCKED = "professional_unblocked"
    EMERGENCY_OPPOSITIONS_SET = "emergency_oppositions_set"
    OCCUPATIONAL_CONSENT_GIVEN = "occupational_consent_given"
    EMERGENCY_ACCESS_STARTED = "emergency_access_started"
    DOCUMENT_ADDED = "document_added"
    DOCUMENT_REPLACED = "document_replaced"
    DOCUMENT_ARCHIVED = "document_archived"
    DOCUMENT_UNARCHIVED = "document_unarchived"
    DOCUMENT_DELETED = "document_deleted"
    DOCUMENT_MASKED = "document_masked"
    DOCUMENT_UNMASKED = "document_unmasked"
    DOCUMENT_RELEASED = "document_released"
    INVISIBILITY_REMINDER_DUE = "invisibility_reminder_due"
    DOCUMENT_READ = "document_read"
    DOCUMENTS_LISTED = "documents_listed"
    FIRST_ACCESS = "first_access"
    REIMBURSEMENTS_ADDED = "reimbursements_added"
    PERSONAL_SPACE_UPDATED = "personal_space_updated"
    PERSONAL_SPACE_READ = "personal_space_read"
    ACCESS_DENIED = "access_denied"
    LOGIN_FAILED = "login_failed"  # a wrong or expired one-time code for a known patient
    AUTHENTICATION_REFUSED = (
        "authentication_refused"  # a presented token failed verification (no actor)
    )
    OPERATOR_COMMAND = (
        "operator_command"  # an operator's command reached a service: who, which method
    )


class Outcome(StrEnum):
    SUCCESS = "success"
    DENIED = "denied"


class ActorRef(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str
    id: str
    profession: str | None = None
    organisation: str | None = None


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: str = Field(default_factory=lambda: new_id("evt"))
    type: EventType
    source: str
    occurred_at: datetime
    actor: ActorRef | None = None
    patient_id: str | None = None
    dossier_id: str | None = None
    document_id: str | None = None
    outcome: Outcome = Outcome.SUCCESS
    rule: str | None = None  # the consent rule that decided, when a decision was made
    emergency: bool = False  # done under an emergency ("bris de glace") access
    data: dict[str, str] = Field(default_factory=dict)  # further ids and codes, never content

    @classmethod
    def of(
        cls, type_: EventType, source: str, at: datetime, actor: Actor | None, **fields: Any
    ) -> Event:
        ref = ActorRef(**actor.ref) if actor is not None else None
        return cls(type=type_, source=source, occurred_at=at, actor=ref, **fields)
