"""identity: patients, professionals and their access tokens."""

from __future__ import annotations

from typing import Any

from services.common.actors import Actor, ActorKind
from services.common.clock import Clock
from services.common.entrypoints import rpc
from services.common.events import Event, EventType
from services.common.health import HealthMixin
from services.common.identifiers import require_ins
from services.common.ids import new_id
from services.common.schemas import (
    AccessToken,
    DevTokenRequest,
    PatientRegistration,
    ProfessionalRegistration,
)
from services.common.settings import Settings
from services.common.store import StoreProvider
from services.common.tokens import issue, signing_key_from_env
from services.common.validation import parse
from services.identity import exceptions
from services.identity.store import IdentityStore


class IdentityService(HealthMixin):
    name = "identity"

    store: IdentityStore = StoreProvider(IdentityStore)
    clock: Clock = Clock()

    def _require_dev_login(self) -> Settings:
        settings = Settings.from_env()
        if not settings.dev_login:
            raise exceptions.dev_login_disabled()
        return settings

    @rpc
    def register_patient(self, payload: dict[str, Any]) -> dict[str, str]:
        """Development enrolment of a patient (the INSi teleservice replaces it: issue 4)."""
        self._require_dev_login()
        registration = parse(PatientRegistration, payload)
        now = self.clock.now()
        patient_id = new_id("pat")
        record = {"_id": patient_id, **registration.model_dump(mode="json"), "registered_at": now}
        event = Event.of(EventType.PATIENT_REGISTERED, self.name, now, None, patient_id=patient_id)
        if not self.store.add_patient(record, event):
            raise exceptions.patient_exists()
        return {"patient_id": patient_id}

    @rpc
    def register_professional(self, payload: dict[str, Any]) -> dict[str, str]:
        """Development enrolment of a professional (the RPPS directory replaces it: issue 4)."""
        self._require_dev_login()
        registration = parse(ProfessionalRegistration, payload)
        now = self.clock.now()
        professional_id = f"rpps:{registration.rpps}"
        record = {"_id": professional_id, **registration.model_dump(mode="json"), "registered_at": now}
        event = Event.of(
            EventType.PROFESSIONAL_REGISTERED, self.name, now, None,
            data={"professional_id": professional_id, "profession": registration.profession},
        )
        if not self.store.add_professional(record, event):
            raise exceptions.professional_exists()
        return {"professional_id": professional_id}

    @rpc
    def issue_dev_token(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A signed token for a registered actor, without a login ceremony (development only)."""
        settings = self._require_dev_login()
        request = parse(DevTokenRequest, payload)
        actor = self._actor_for(request)
        token = issue(actor, signing_key_from_env(), settings, self.clock.now())
        return AccessToken(access_token=token, expires_in=settings.token_ttl_seconds).model_dump()

    def _actor_for(self, request: DevTokenRequest) -> Actor:
        if request.kind == "patient":
            if request.ins is None:
                raise exceptions.InvalidInput.for_field("ins", "is required for a patient token")
            patient = self.store.patient_by_ins(request.ins)
            if patient is None:
                raise exceptions.unknown_patient()
            return Actor(kind=ActorKind.PATIENT, id=patient["_id"], ins=patient["ins"])
        if request.rpps is None:
            raise exceptions.InvalidInput.for_field("rpps", "is required for a professional token")
        professional = self.store.professional(request.rpps)
        if professional is None:
            raise exceptions.unknown_professional()
        return Actor(
            kind=ActorKind.PROFESSIONAL,
            id=professional["_id"],
            rpps=professional["rpps"],
            profession=professional["profession"],
        )

    # Internal lookups for other services (not exposed by the gateway).

    @rpc
    def patient_id_for(self, ins: str) -> str:
        patient = self.store.patient_by_ins(require_ins(ins))
        if patient is None:
            raise exceptions.unknown_patient()
        return str(patient["_id"])

    @rpc
    def contact_of(self, patient_id: str) -> dict[str, str]:
        """Where to tell a patient about their dossier: used by notify only."""
        patient = self.store.patient(patient_id)
        if patient is None:
            raise exceptions.NotFound("no such patient")
        return {"email": patient["email"], "language": patient.get("language", "fr")}
