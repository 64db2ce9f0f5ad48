"""consent's collections: authorisations (consents, care team, occupational consents), the patient's
settings (médecin traitant, blocks, emergency oppositions), emergency accesses, account statuses.

Times that are compared are kept as epoch milliseconds (`*_ms`): nx-27017 turns a top-level datetime
written by $set into a string. Times shown to people are nested ({"at": datetime}).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.common.events import Event
from services.common.store import Store
from services.consent.rules import EmergencyAccess, Facts

HIDDEN = {"_outbox": 0, "_outbox_pending": 0, "_version": 0}
NO_SETTINGS: dict[str, Any] = {
    "medecin_traitant": None, "mt_history": [], "mt_proposals": [], "blocked": [], "oppose_emergency": False,
    "oppose_regulator": False,
}


def pair_id(ins: str, professional_id: str) -> str:
    # Deterministic, so that recording the same thing twice is one record.
    return f"{professional_id}|{ins}"


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class ConsentStore(Store):
    service = "consent"
    outbox_collections = ("consents", "care_team", "occupational_consents", "patient_settings", "emergencies",
                          "refusals")

    @classmethod
    def prepare(cls, database: Database[dict[str, Any]]) -> None:
        super().prepare(database)
        for collection in ("consents", "care_team", "occupational_consents"):
            database[collection].create_index([("ins", 1)])
        database.emergencies.create_index([("ins", 1), ("professional_id", 1), ("expires_ms", 1)])
        database.emergencies.create_index([("ins", 1)])  # nx-27017 only uses single-field indexes for equality

    def record_refusal(self, event: Event) -> None:
        """A refused request, kept with its access_denied event (the audit trail gets it through the outbox)."""
        self.insert_with_events("refusals", {"_id": event.event_id, "at": event.occurred_at,
                                             "rule": event.rule, "patient_id": event.patient_id}, [event])

    # What one decision needs, in one place.

    def facts_for(self, ins: str, patient_id: str, actor_id: str, now: datetime) -> Facts:
        now_ms = ms(now)
        settings = self.patient_settings(ins)
        emergency = self.db.emergencies.find_one(
            {"ins": ins, "professional_id": actor_id, "expires_ms": {"$gt": now_ms}})
        return Facts(
            ins=ins, patient_id=patient_id,
            has_consent=_active(self.db.consents.find_one({"_id": pair_id(ins, actor_id)}), now_ms),
            in_care_team=_active(self.db.care_team.find_one({"_id": pair_id(ins, actor_id)}), now_ms),
            occupational_consent=_active(self.db.occupational_consents.find_one({"_id": pair_id(ins, actor_id)}),
                                         now_ms),
            is_medecin_traitant=settings["medecin_traitant"] == actor_id,
            blocked=actor_id in settings["blocked"],
            emergency=EmergencyAccess(
                regulator=bool(emergency["regulator"]), expires_at=emergency["started"]["until"]
            ) if emergency else None,
            suspended=self.suspended(actor_id),
        )

    # Authorisations: consents, care team, occupational consents share one shape.

    def authorise(self, collection: str, record: dict[str, Any], event: Event) -> bool:
        """Record (or renew, after a withdrawal or expiry) an authorisation; False when it was already
        active."""
        if self.insert_new(collection, record, [event]):
            return True
        current = self.db[collection].find_one({"_id": record["_id"]})
        if current is not None and _active(current, record["recorded"]["ms"]):
            return False
        renewal = {key: value for key, value in record.items() if key != "_id"}
        return self.update_with_events(collection, {"_id": record["_id"]}, {**renewal, "withdrawn": None},
                                       [event]) is not None

    def withdraw(self, collection: str, ins: str, professional_id: str, by: str, now: datetime, event: Event) -> bool:
        query = {"_id": pair_id(ins, professional_id), "withdrawn": None}
        changes = {"withdrawn": {"at": now, "by": by}}
        return self.update_with_events(collection, query, changes, [event]) is not None

    def authorisation(self, collection: str, ins: str, professional_id: str) -> dict[str, Any] | None:
        return self.db[collection].find_one({"_id": pair_id(ins, professional_id)}, HIDDEN)

    def authorisations(self, collection: str, ins: str, now: datetime) -> list[dict[str, Any]]:
        return [record for record in self.db[collection].find({"ins": ins}, HIDDEN) if _active(record, ms(now))]

    # The patient's settings: one document per patient.

    def patient_settings(self, ins: str) -> dict[str, Any]:
        return {**NO_SETTINGS, **(self.db.patient_settings.find_one({"_id": ins}, HIDDEN) or {})}

    def change_settings(self, ins: str, patient_id: str, changes: dict[str, Any], event: Event) -> None:
        if self.insert_new("patient_settings", {"_id": ins, "patient_id": patient_id, **NO_SETTINGS, **changes},
                           [event]):
            return
        self.update_with_events("patient_settings", {"_id": ins}, changes, [event])

    # Emergency accesses

    def start_emergency(self, record: dict[str, Any], event: Event) -> None:
        self.insert_new("emergencies", record, [event])

    # Account statuses, learnt from identity's events.

    def apply_status(self, actor_id: str, status: str, changed_ms: int) -> None:
        """Keep the newest status of an account (events may arrive late or twice)."""
        try:
            self.db.account_status.insert_one({"_id": actor_id, "status": status, "changed_ms": changed_ms})
        except DuplicateKeyError:
            self.db.account_status.update_one(
                {"_id": actor_id, "changed_ms": {"$lt": changed_ms}},
                {"$set": {"status": status, "changed_ms": changed_ms}},
            )

    def suspended(self, actor_id: str) -> bool:
        record = self.db.account_status.find_one({"_id": actor_id})
        return record is not None and record["status"] == "suspended"


def _active(record: dict[str, Any] | None, now_ms: int) -> bool:
    """An authorisation that exists, was not withdrawn, has started and has not expired."""
    if record is None or record.get("withdrawn"):
        return False
    if record.get("from_ms") is not None and record["from_ms"] > now_ms:
        return False
    return record.get("until_ms") is None or record["until_ms"] > now_ms
