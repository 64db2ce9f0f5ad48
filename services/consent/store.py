"""consent's records: every fact a decision reads lives in one collection, `facts`, under a key that names
the fact (`consent|<professional>|<ins>`, `settings|<ins>`, `status|<actor>`, ...), so that the facts of a
decision are one query by `_id` (six reads before, on every request; issue 19). Refused requests are kept
in `refusals`.

Times that are compared are kept as epoch milliseconds (`*_ms`): nx-27017 turns a top-level datetime
written by $set into a string. Times shown to people are nested ({"at": datetime}).
"""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime
from enum import StrEnum
from typing import Any

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.common.errors import ServiceUnavailable
from services.common.events import Event
from services.common.store import Store
from services.consent.rules import EmergencyAccess, Facts

HIDDEN = {"_outbox": 0, "_outbox_pending": 0, "_version": 0}
NO_SETTINGS: dict[str, Any] = {
    "medecin_traitant": None, "mt_history": [], "mt_proposals": [], "blocked": [], "oppose_emergency": False,
    "oppose_regulator": False,
}
FACTS = "facts"


class Kind(StrEnum):
    """What a fact is; the first part of its key."""

    CONSENT = "consent"  # the patient's consent to a professional
    CARE_TEAM = "care_team"  # a care team membership
    OCCUPATIONAL_CONSENT = "occupational_consent"  # the patient's consent to an occupational doctor
    EMERGENCY = "emergency"  # a professional's latest emergency access, earlier ones kept inside
    SETTINGS = "settings"  # the patient's settings: médecin traitant, blocks, emergency oppositions
    STATUS = "status"  # an account's status, learnt from identity


AUTHORISATIONS = (Kind.CONSENT, Kind.CARE_TEAM, Kind.OCCUPATIONAL_CONSENT)


def fact_id(kind: Kind, *keys: str) -> str:
    # Deterministic, so that recording the same thing twice is one record.
    return "|".join((kind.value, *keys))


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class ConsentStore(Store):
    service = "consent"
    outbox_collections = (FACTS, "refusals")

    @classmethod
    def prepare(cls, database: Database[dict[str, Any]]) -> None:
        super().prepare(database)
        database[FACTS].create_index([("ins", 1)])  # a patient's authorisations, for their settings page
        move_earlier_layout(database)

    def record_refusal(self, event: Event) -> None:
        """A refused request, kept with its access_denied event (the audit trail gets it through the outbox)."""
        self.insert_with_events("refusals", {"_id": event.event_id, "at": event.occurred_at,
                                             "rule": event.rule, "patient_id": event.patient_id}, [event])

    # What one decision needs: one query.

    def facts_for(self, ins: str, patient_id: str, actor_id: str, now: datetime) -> Facts:
        now_ms = ms(now)
        keys = {kind: fact_id(kind, actor_id, ins) for kind in (*AUTHORISATIONS, Kind.EMERGENCY)}
        keys[Kind.SETTINGS], keys[Kind.STATUS] = fact_id(Kind.SETTINGS, ins), fact_id(Kind.STATUS, actor_id)
        found = {record["_id"]: record for record in self.db[FACTS].find({"_id": {"$in": list(keys.values())}})}
        settings = {**NO_SETTINGS, **found.get(keys[Kind.SETTINGS], {})}
        emergency = found.get(keys[Kind.EMERGENCY])
        if emergency is not None and emergency["expires_ms"] <= now_ms:
            emergency = None
        return Facts(
            ins=ins, patient_id=patient_id,
            has_consent=_active(found.get(keys[Kind.CONSENT]), now_ms),
            in_care_team=_active(found.get(keys[Kind.CARE_TEAM]), now_ms),
            occupational_consent=_active(found.get(keys[Kind.OCCUPATIONAL_CONSENT]), now_ms),
            is_medecin_traitant=settings["medecin_traitant"] == actor_id,
            blocked=actor_id in settings["blocked"],
            emergency=EmergencyAccess(
                regulator=bool(emergency["regulator"]), expires_at=emergency["started"]["until"]
            ) if emergency else None,
            suspended=_suspended(found.get(keys[Kind.STATUS])),
        )

    # Authorisations: consents, care team, occupational consents share one shape.

    def authorise(self, kind: Kind, record: dict[str, Any], event: Event) -> bool:
        """Record (or renew, after a withdrawal or expiry) an authorisation; False when it was already
        active. `record` names the patient (`ins`) and the professional (`professional_id`)."""
        key = fact_id(kind, record["professional_id"], record["ins"])
        if self.insert_new(FACTS, {**record, "_id": key, "kind": kind.value}, [event]):
            return True
        current = self.db[FACTS].find_one({"_id": key})
        if current is not None and _active(current, record["recorded"]["ms"]):
            return False
        return self.update_with_events(FACTS, {"_id": key}, {**record, "withdrawn": None}, [event]) is not None

    def withdraw(self, kind: Kind, ins: str, professional_id: str, by: str, now: datetime, event: Event) -> bool:
        query = {"_id": fact_id(kind, professional_id, ins), "withdrawn": None}
        changes = {"withdrawn": {"at": now, "by": by}}
        return self.update_with_events(FACTS, query, changes, [event]) is not None

    def authorisation(self, kind: Kind, ins: str, professional_id: str) -> dict[str, Any] | None:
        return self.db[FACTS].find_one({"_id": fact_id(kind, professional_id, ins)}, HIDDEN)

    def authorisations(self, kind: Kind, ins: str, now: datetime) -> list[dict[str, Any]]:
        # By patient (indexed), then by kind: a patient has a handful of facts.
        return [record for record in self.db[FACTS].find({"ins": ins}, HIDDEN)
                if record["kind"] == kind.value and _active(record, ms(now))]

    # The patient's settings: one document per patient.

    def patient_settings(self, ins: str) -> dict[str, Any]:
        return {**NO_SETTINGS, **(self.db[FACTS].find_one({"_id": fact_id(Kind.SETTINGS, ins)}, HIDDEN) or {})}

    def change_settings(self, ins: str, patient_id: str, changes: dict[str, Any], event: Event) -> None:
        key = fact_id(Kind.SETTINGS, ins)
        first = {"_id": key, "kind": Kind.SETTINGS.value, "ins": ins, "patient_id": patient_id, **NO_SETTINGS,
                 **changes}
        if self.insert_new(FACTS, first, [event]):
            return
        self.update_with_events(FACTS, {"_id": key}, changes, [event])

    # Emergency accesses: the latest of each professional on each dossier decides (it ends last); the
    # earlier ones stay inside it, reason included.

    def start_emergency(self, record: dict[str, Any], event: Event) -> None:
        key = fact_id(Kind.EMERGENCY, record["professional_id"], record["ins"])
        if self.insert_new(FACTS, {**record, "_id": key, "kind": Kind.EMERGENCY.value, "earlier": []}, [event]):
            return
        for _ in range(10):  # compare-and-set on the version, so that no earlier access is lost
            current = self.db[FACTS].find_one({"_id": key})
            if current is None:
                break
            earlier = [*current.get("earlier", []), {name: current[name] for name in EMERGENCY_FIELDS}]
            query = {"_id": key, "_version": current.get("_version", 0)}
            if self.update_with_events(FACTS, query, {**record, "earlier": earlier}, [event]) is not None:
                return
        raise ServiceUnavailable("the record is changing too often; nothing was changed, retry")

    # Account statuses, learnt from identity's events.

    def apply_status(self, actor_id: str, status: str, changed_ms: int) -> None:
        """Keep the newest status of an account (events may arrive late or twice)."""
        key = fact_id(Kind.STATUS, actor_id)
        try:
            self.db[FACTS].insert_one({"_id": key, "kind": Kind.STATUS.value, "status": status,
                                       "changed_ms": changed_ms})
        except DuplicateKeyError:
            self.db[FACTS].update_one(
                {"_id": key, "changed_ms": {"$lt": changed_ms}},
                {"$set": {"status": status, "changed_ms": changed_ms}},
            )

    def suspended(self, actor_id: str) -> bool:
        return _suspended(self.db[FACTS].find_one({"_id": fact_id(Kind.STATUS, actor_id)}))


EMERGENCY_FIELDS = ("event_id", "regulator", "reason", "started", "expires_ms")
EARLIER_COLLECTIONS = {"consents": Kind.CONSENT, "care_team": Kind.CARE_TEAM,
                       "occupational_consents": Kind.OCCUPATIONAL_CONSENT, "patient_settings": Kind.SETTINGS,
                       "account_status": Kind.STATUS, "emergencies": Kind.EMERGENCY}


def move_earlier_layout(database: Database[dict[str, Any]]) -> None:
    """Move records of the layout before `facts` (a collection per kind) into it, events still pending
    included, then drop the old collection. Run at start, before any request; a crash half-way is finished
    at the next start (a record already moved is not moved twice)."""
    present = set(database.list_collection_names())
    for name, kind in EARLIER_COLLECTIONS.items():
        if name not in present:
            continue
        by_key: dict[str, list[dict[str, Any]]] = {}
        for record in sorted(database[name].find({}), key=lambda r: r.get("expires_ms", 0)):  # oldest first
            by_key.setdefault(_earlier_key(kind, record), []).append(record)
        for key, records in by_key.items():
            latest = {**records[-1], "_id": key, "kind": kind.value}
            if kind is Kind.SETTINGS:
                latest["ins"] = records[-1]["_id"]  # the settings' key was the INS
            if kind is Kind.EMERGENCY:  # one per professional and dossier: the one that ends last decides
                latest["event_id"] = records[-1]["_id"]
                latest["earlier"] = [{**{f: r.get(f) for f in EMERGENCY_FIELDS}, "event_id": r["_id"]}
                                     for r in records[:-1]]
            with suppress(DuplicateKeyError):  # moved by an earlier start
                database[FACTS].insert_one(latest)
        database.drop_collection(name)


def _earlier_key(kind: Kind, record: dict[str, Any]) -> str:
    if kind in (Kind.SETTINGS, Kind.STATUS):  # keyed by the patient's INS, by the actor
        return fact_id(kind, record["_id"])
    return fact_id(kind, record["professional_id"], record["ins"])


def _suspended(status: dict[str, Any] | None) -> bool:
    return status is not None and status["status"] == "suspended"


def _active(record: dict[str, Any] | None, now_ms: int) -> bool:
    """An authorisation that exists, was not withdrawn, has started and has not expired."""
    if record is None or record.get("withdrawn"):
        return False
    if record.get("from_ms") is not None and record["from_ms"] > now_ms:
        return False
    return record.get("until_ms") is None or record["until_ms"] > now_ms
