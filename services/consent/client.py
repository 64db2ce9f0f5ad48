"""The consent service's RPC methods, typed: what its callers declare their proxy as. Generated from
services/consent/service.py by `python -m services.common.clients` (tests/common/test_clients.py
fails when it drifts)."""

from __future__ import annotations

from typing import Any, Protocol


class ConsentClient(Protocol):
    def authorise_occupational_doctor(self, token: str, ins: str, payload: dict[str, Any]) -> dict[str, Any]:
        """The patient's explicit consent to an occupational doctor (médecin du travail). Callers: clients."""

    def block(self, token: str, ins: str, payload: dict[str, Any]) -> dict[str, Any]:
        """The patient blocks a professional: they see nothing, emergency access included. Callers: clients."""

    def break_glass(self, token: str, ins: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Emergency access: the patient cannot consent and their health is at risk. Read and add for an hour (the
        SAMU regulator: read only), unless the patient opposed it; the patient is told. Callers: clients."""

    def confirm_medecin_traitant(self, token: str, ins: str, payload: dict[str, Any]) -> dict[str, Any]:
        """The patient (or their representative) confirms a médecin's pending proposal: they become the médecin
        traitant now, and the previous one (if any) is no longer. Callers: clients."""

    def decide(self, token: str, ins: str, action: str, document: dict[str, Any]) -> dict[str, Any]:
        """The decision for one document ({category, visibility, author_id}) rather than a whole dossier. Callers:
        dossier."""

    def declare_medecin_traitant(self, token: str, ins: str, payload: dict[str, Any]) -> dict[str, Any]:
        """A médecin proposes themselves as médecin traitant: a pending proposal that grants nothing until the
        patient confirms it. The Assurance Maladie feed (a system actor) declares the médecin the patient declared
        to their fund (`professional_id`), which takes effect at once. Callers: clients."""

    def end_medecin_traitant(self, token: str, ins: str) -> dict[str, Any]:
        """Callers: clients."""

    def grant(self, token: str, ins: str, action: str) -> dict[str, Any]:
        """What this actor may do in this patient's dossier, the rule that decided, and why. Callers: audit, dossier,
        notify."""

    def grant_for_any_patient(self, token: str, action: str) -> dict[str, Any]:
        """A right that does not depend on the patient (the reimbursement feed's), and why. Callers: dossier."""

    def health(self) -> dict[str, str]:
        """Callers: everyone."""

    def join_care_team(self, token: str, ins: str, payload: dict[str, Any]) -> dict[str, Any]:
        """A professional of an organisation caring for the patient joins the care team, having informed the patient
        (who may object at any time). Callers: clients."""

    def object_to_care_team(self, token: str, ins: str, payload: dict[str, Any]) -> dict[str, Any]:
        """The patient objects to a care team member's access: it ends now. Callers: clients."""

    def record_consent(self, token: str, ins: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        """A professional records the patient's (oral) consent to their access, optionally until a date. Callers:
        clients."""

    def set_emergency_oppositions(self, token: str, ins: str, payload: dict[str, Any]) -> dict[str, Any]:
        """The patient opposes (or allows) each kind of emergency access separately; both allowed at first. Callers:
        clients."""

    def settings(self, token: str, ins: str) -> dict[str, Any]:
        """What the patient has set up and who is authorised, for the patient's side. Callers: clients."""

    def unblock(self, token: str, ins: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Callers: clients."""

    def withdraw_consent(self, token: str, ins: str, payload: dict[str, object] | None = None) -> dict[str, Any]:
        """The patient withdraws a professional's consent, or a professional withdraws their own. Callers: clients."""
