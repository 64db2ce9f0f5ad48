"""notify: tells the patient, by email, what professionals do in their dossier.

Delivery is at-least-once and deduplicated by event id: a redelivered event whose email was sent
sends nothing. Preferences, SMS, digests, retries with backoff and dead letters are issue 7.
"""

from __future__ import annotations

import logging
from typing import Any

import eventlet
from nameko.rpc import ServiceRpc

from services.common.clock import Clock
from services.common.entrypoints import rpc
from services.common.events import Event
from services.common.health import HealthMixin
from services.common.schemas import IdentityMessage
from services.common.settings import Settings
from services.common.store import StoreProvider
from services.common.subscriptions import subscribe
from services.common.validation import parse
from services.notify import mailer, messages, sms
from services.notify.exceptions import DeliveryInProgress, PermanentFailure
from services.notify.store import Claim, NotifyStore

log = logging.getLogger(__name__)




class NotifyService(HealthMixin):
    name = "notify"

    store: NotifyStore = StoreProvider(NotifyStore)
    identity = ServiceRpc("identity")
    clock: Clock = Clock()

    @rpc
    def deliver_identity_message(self, payload: dict[str, Any]) -> None:
        """Codes and security notices go out at once; codes are never stored here (nor in any event)."""
        request = parse(IdentityMessage, payload)
        message = messages.identity_message(request.kind, request.code, request.valid_minutes, request.language)
        settings = Settings.from_env()
        try:
            if request.channel == "sms":
                sms.send_sms(settings, request.to, message.body)
            else:
                mailer.send_email(settings, request.to, message, request.kind)
        except PermanentFailure as error:
            log.warning("%s delivery refused for good: %s", request.kind, error)

    @subscribe("notify", "dossier")
    def on_dossier_event(self, payload: dict[str, Any]) -> None:
        self._tell(Event.model_validate(payload))

    @subscribe("notify", "consent")
    def on_consent_event(self, payload: dict[str, Any]) -> None:
        self._tell(Event.model_validate(payload))

    def _tell(self, event: Event) -> None:
        for whom, professional_id in messages.recipients(event):
            if whom == messages.PATIENT and event.patient_id is None:
                continue
            self._deliver(event, whom, professional_id)

    def _deliver(self, event: Event, whom: str, professional_id: str) -> None:
        delivery_id = f"{event.event_id}:email:{whom}"
        fields = {"event_id": event.event_id, "patient_id": event.patient_id, "channel": "email", "to": whom}
        claim = self.store.claim(delivery_id, fields, self.clock.now())
        if claim is Claim.DONE:
            return  # a redelivered event that was already handled
        if claim is Claim.BUSY:
            eventlet.sleep(1)  # requeued: comes back once the other worker has finished or died
            raise DeliveryInProgress(delivery_id)
        if whom == messages.PATIENT:
            contact = self.identity.contact_of(event.patient_id)
        else:
            contact = self.identity.professional_contact(professional_id)
        if not contact["email"]:
            self.store.finish(delivery_id, "failed", self.clock.now(), "no email address on file")
            return
        settings = Settings.from_env()
        message = messages.compose(event, contact["language"], settings.patient_portal_url, whom)
        try:
            message_id = mailer.send_email(settings, contact["email"], message, event.event_id)
        except PermanentFailure as error:
            log.warning("delivery %s failed for good: %s", delivery_id, error)
            self.store.finish(delivery_id, "failed", self.clock.now(), str(error))
            return
        self.store.finish(delivery_id, "sent", self.clock.now(), message_id)
