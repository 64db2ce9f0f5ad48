"""The identity service's RPC methods, typed: what its callers declare their proxy as. Generated from
services/identity/service.py by `python -m services.common.clients` (tests/common/test_clients.py
fails when it drifts)."""

from __future__ import annotations

from typing import Any, Protocol


class IdentityClient(Protocol):
    def add_representative(self, minor_ins: str, payload: dict[str, Any]) -> dict[str, str]:
        """Record that an adult is the legal representative of a minor (development enrolment: in production this is
        established at a counter, with proof). Callers: gateway, operators."""

    def check_patient_identity(self, token: str, payload: dict[str, Any]) -> dict[str, Any]:
        """A professional (or counter agent) checks the patient's identity traits (INS, family name, birth date)
        before anything of the dossier is shown. A mismatch answers exactly like an unknown INS. Callers: clients."""

    def confirm_contact_change(self, token: str, ins: str, payload: dict[str, Any]) -> dict[str, str]:
        """Callers: clients."""

    def contact_of(self, patient_id: str) -> dict[str, str]:
        """Where to tell a patient about their dossier: used by notify only. Callers: notify."""

    def ended_sessions(self) -> list[dict[str, str]]:
        """Every ended session whose access tokens could still be presented (services/common/sessions.py). Callers:
        everyone."""

    def health(self) -> dict[str, str]:
        """Callers: everyone."""

    def issue_dev_token(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A signed token for a registered actor, without a login ceremony (development only). Callers: gateway,
        operators."""

    def login_with_card(self, payload: dict[str, Any], client_address: str) -> dict[str, Any]:
        """Callers: clients, operators."""

    def login_with_code(self, payload: dict[str, Any], client_address: str) -> dict[str, Any]:
        """Callers: clients."""

    def login_with_external(self, payload: dict[str, Any], client_address: str) -> dict[str, Any]:
        """Exchange an ID token from a trusted external issuer (Pro Santé Connect) for an access token. Callers:
        clients."""

    def logout(self, token: str, payload: dict[str, Any]) -> dict[str, str]:
        """End the session: its refresh tokens and every access token issued in it stop working at once, everywhere.
        Callers: clients."""

    def patient_id_for(self, ins: str) -> str:
        """Callers: consent."""

    def professional_contact(self, professional_id: str) -> dict[str, str]:
        """Where to remind a professional about their documents (empty when none is on file), and their profession
        (empty for an unknown professional: consent checks a declared médecin traitant with it). Callers: consent,
        notify."""

    def refresh(self, payload: dict[str, Any], client_address: str) -> dict[str, Any]:
        """A new access token and a new refresh token for a refresh token, which is used up. A used token presented
        again means it was stolen or replayed: the whole session is ended. Callers: clients."""

    def register_agent(self, payload: dict[str, Any]) -> dict[str, str]:
        """Development enrolment of an Assurance Maladie counter agent (with their card's key). Callers: gateway,
        operators."""

    def register_patient(self, payload: dict[str, Any]) -> dict[str, str]:
        """Development enrolment of a patient (the INSi teleservice replaces it: issue 4). Callers: gateway,
        operators."""

    def register_professional(self, payload: dict[str, Any]) -> dict[str, str]:
        """Development enrolment of a professional (the RPPS directory replaces it: issue 4). Callers: gateway,
        operators."""

    def register_system(self, payload: dict[str, Any]) -> dict[str, str]:
        """Development enrolment of a system client (e.g. the reimbursement feed) and its key. Callers: gateway,
        operators."""

    def represented_birth_date(self, representative_id: str, minor_id: str) -> str | None:
        """The minor's birth date if this patient represents them (consent decides what follows). Callers: consent."""

    def request_card_challenge(self, payload: dict[str, Any], client_address: str) -> dict[str, Any]:
        """Callers: clients, operators."""

    def request_contact_change(self, token: str, ins: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send a code to the new address; it replaces the old one only once the code comes back. Callers: clients."""

    def request_login_code(self, payload: dict[str, Any], client_address: str) -> dict[str, Any]:
        """Send a one-time code to the patient's verified address. Same answer for any INS. Callers: clients."""

    def set_status(self, actor_id: str, status: str) -> dict[str, str]:
        """Operator action (not exposed by the gateway): suspend or reactivate a professional, agent or system. A
        suspended account cannot log in, and consent refuses its tokens still running. Callers: operators."""
