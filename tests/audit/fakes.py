"""A stand-in for what audit asks the dossier service: whether it purged a dossier, and the dossiers
patients have now."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class FakeDossier:
    purged: dict[str, str] = field(default_factory=dict)  # dossier id -> its patient
    dossiers: dict[str, tuple[str, datetime]] = field(
        default_factory=dict
    )  # patient -> status, opened

    def purge_record(self, dossier_id: str) -> dict[str, Any]:
        if dossier_id not in self.purged:
            return {"purged": False}
        return {"purged": True, "patient_id": self.purged[dossier_id]}

    def dossiers_of(self, patient_ids: list[str]) -> dict[str, dict[str, str]]:
        return {
            patient_id: {"status": status, "opened_at": opened.isoformat()}
            for patient_id in patient_ids
            if patient_id in self.dossiers
            for status, opened in [self.dossiers[patient_id]]
        }
