"""What consent's use-case tests put in place of identity: a small typed fake answering the three calls consent
makes, from what the test registered."""

from __future__ import annotations

from datetime import date

from services.identity import exceptions


class FakeIdentity:
    def __init__(self) -> None:
        self.patients: dict[str, str] = {}  # INS -> patient id
        self.represented: dict[tuple[str, str], date] = {}  # (representative, minor) -> birth date
        self.professions: dict[str, str] = {}  # professional id -> TRE_G15 profession
        self.asked: list[str] = []  # the INS asked for, in order

    def patient_id_for(self, ins: str) -> str:
        self.asked.append(ins)
        if ins not in self.patients:
            raise exceptions.unknown_patient()
        return self.patients[ins]

    def represented_birth_date(self, representative_id: str, minor_id: str) -> str | None:
        born = self.represented.get((representative_id, minor_id))
        return born.isoformat() if born is not None else None

    def professional_contact(self, professional_id: str) -> dict[str, str]:
        return {
            "email": "",
            "language": "fr",
            "profession": self.professions.get(professional_id, ""),
        }
