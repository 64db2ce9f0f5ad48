"""consent's records in memory, for the fast tests: the same answers as ConsentStore (the contract tests in
tests/consent/test_store.py run on both), over dicts of the typed records. What the outbox would publish is
collected in `events`, in the order of the writes that cause them."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

# The one exception of the contract that belongs to the driver: an event id recorded twice (the Mongo
# store lets it through).
from pymongo.errors import DuplicateKeyError

from services.common.events import Event
from services.common.memory import MemoryStore
from services.consent.facts import facts_of, settings_changed_meanwhile, suspended
from services.consent.records import (
    AUTHORISATIONS,
    Authorisation,
    EmergencyRecord,
    Kind,
    PatientSettings,
)
from services.consent.rules import Facts
from services.consent.store import ConsentRecords


class MemoryConsentStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.refusals: set[str] = set()  # their events' ids
        self.authorised: dict[
            tuple[Kind, str, str], Authorisation
        ] = {}  # by kind, INS, professional
        self.settings: dict[str, PatientSettings] = {}  # by INS, each with its stored version
        self.emergencies: dict[tuple[str, str], EmergencyRecord] = {}  # by INS and professional
        self.earlier: dict[tuple[str, str], list[EmergencyRecord]] = {}  # kept inside the latest
        self.statuses: dict[
            str, tuple[str, datetime]
        ] = {}  # an account's status and when it changed

    def record_refusal(self, event: Event) -> None:
        if event.event_id in self.refusals:
            raise DuplicateKeyError(f"{event.event_id} is already recorded")
        self.refusals.add(event.event_id)
        self.events.append(event)

    def facts_for(self, ins: str, patient_id: str, actor_id: str, now: datetime) -> Facts:
        found = (self.authorised.get((kind, ins, actor_id)) for kind in AUTHORISATIONS)
        status = self.statuses.get(actor_id)
        return facts_of(
            ins,
            patient_id,
            actor_id,
            now,
            [a for a in found if a is not None],
            self.patient_settings(ins),
            self.emergencies.get((ins, actor_id)),
            status[0] if status is not None else None,
        )

    def authorise(self, authorisation: Authorisation, event: Event) -> bool:
        key = (authorisation.kind, authorisation.ins, authorisation.professional_id)
        current = self.authorised.get(key)
        if current is not None and current.active(authorisation.recorded_at):
            return False
        self.authorised[key] = replace(authorisation, withdrawn_at=None)
        self.events.append(event)
        return True

    def withdraw(
        self, kind: Kind, ins: str, professional_id: str, by: str, now: datetime, event: Event
    ) -> bool:
        current = self.authorised.get((kind, ins, professional_id))
        if current is None or current.withdrawn_at is not None:
            return False
        self.authorised[(kind, ins, professional_id)] = replace(current, withdrawn_at=now)
        self.events.append(event)
        return True

    def authorisation(self, kind: Kind, ins: str, professional_id: str) -> Authorisation | None:
        return self.authorised.get((kind, ins, professional_id))

    def authorisations(self, kind: Kind, ins: str, now: datetime) -> list[Authorisation]:
        return [
            a for (k, i, _), a in self.authorised.items() if (k, i) == (kind, ins) and a.active(now)
        ]

    def patient_settings(self, ins: str) -> PatientSettings:
        return self.settings.get(ins) or PatientSettings(ins=ins)

    def save_settings(self, settings: PatientSettings, event: Event) -> None:
        current = self.settings.get(settings.ins)
        if settings.version != (current.version if current is not None else None):
            raise settings_changed_meanwhile()
        version = 0 if settings.version is None else settings.version + 1
        self.settings[settings.ins] = replace(settings, version=version)
        self.events.append(event)

    def start_emergency(self, emergency: EmergencyRecord, event: Event) -> None:
        key = (emergency.ins, emergency.professional_id)
        current = self.emergencies.get(key)
        if current is not None:
            self.earlier.setdefault(key, []).append(current)
        self.emergencies[key] = emergency
        self.events.append(event)

    def apply_status(self, actor_id: str, status: str, changed_at: datetime) -> None:
        current = self.statuses.get(actor_id)
        if current is None or current[1] < changed_at:  # events may arrive late or twice
            self.statuses[actor_id] = (status, changed_at)

    def suspended(self, actor_id: str) -> bool:
        status = self.statuses.get(actor_id)
        return suspended(status[0] if status is not None else None)


_check: type[ConsentRecords] = MemoryConsentStore
