"""identity's collections: patients and professionals."""

from __future__ import annotations

from typing import Any

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.common.events import Event
from services.common.store import Store


class IdentityStore(Store):
    service = "identity"
    outbox_collections = ("patients", "professionals")

    @classmethod
    def prepare(cls, database: Database[dict[str, Any]]) -> None:
        super().prepare(database)
        database.patients.create_index([("ins", 1)], unique=True)

    def add_patient(self, patient: dict[str, Any], event: Event) -> bool:
        """False when the INS is already registered."""
        try:
            self.insert_with_events("patients", patient, [event])
        except DuplicateKeyError:
            return False
        return True

    def add_professional(self, professional: dict[str, Any], event: Event) -> bool:
        try:
            self.insert_with_events("professionals", professional, [event])
        except DuplicateKeyError:
            return False
        return True

    def patient_by_ins(self, ins: str) -> dict[str, Any] | None:
        return self.db.patients.find_one({"ins": ins}, {"_outbox": 0})

    def patient(self, patient_id: str) -> dict[str, Any] | None:
        return self.db.patients.find_one({"_id": patient_id}, {"_outbox": 0})

    def professional(self, rpps: str) -> dict[str, Any] | None:
        return self.db.professionals.find_one({"_id": f"rpps:{rpps}"}, {"_outbox": 0})

