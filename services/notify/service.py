"""notify: tells patients (and professionals, for their own affairs) what happens in a dossier.

Per the patient's preferences: email, SMS or both; routine events at once or in a daily digest;
emergency access and a professional's first access always at once. Login codes from identity go out
at once by RPC. Every delivery is recorded before it is attempted, and a message that went out is noted
in a local journal before the store is told (journal.py); failures are retried with
exponential backoff by a job, and after the last attempt (or at once, for an address refused for
good) the delivery goes to a dead-letter list that operators list and replay.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import UTC, datetime, timedelta
from typing import Any

from nameko.exceptions import RemoteError, RpcTimeout

from services.common.clock import Clock
from services.common.entrypoints import every, rpc
from services.common.errors import InvalidInput, NotFound
from services.common.events import Event
from services.common.grants import Action, Grant
from services.common.health import HealthMixin
from services.common.identifiers import require_ins
from services.common.principals import OPERATORS
from services.common.rpc_client import ServiceRpc
from services.common.schemas import (
    IDENTITY_MESSAGE,
    IdentityMessage,
    NotificationPreferences,
    SealedIdentityMessage,
)
from services.common.sealing import ContentCorrupted, open_json
from services.common.settings import Settings, secret_bytes
from services.common.store import StoreProvider
from services.common.subscriptions import subscribe
from services.common.validation import parse
from services.consent.client import ConsentClient
from services.identity.client import IdentityClient
from services.notify import mailer, messages, sms
from services.notify.contacts import Contacts, ContactsProvider
from services.notify.exceptions import LeaseLost, PermanentFailure
from services.notify.journal import SentJournal
from services.notify.store import NotifyStore, ms

log = logging.getLogger(__name__)


TRANSIENT = (OSError, smtplib.SMTPException, RemoteError, RpcTimeout)  # worth another try later


class NotifyService(HealthMixin):
    name = "notify"

    store: NotifyStore = StoreProvider(NotifyStore)
    identity: IdentityClient = ServiceRpc("identity")
    contacts: Contacts = ContactsProvider()
    consent: ConsentClient = ServiceRpc("consent")
    clock: Clock = Clock()

    @rpc(callers=("identity",))
    def deliver_identity_message(self, payload: dict[str, Any]) -> None:
        """Codes and security notices go out at once; codes are never stored here (nor in any event)."""
        sealed = parse(SealedIdentityMessage, payload).sealed
        try:
            opened = open_json(secret_bytes("DMP_IDENTITY_MESSAGE_KEY"), sealed, IDENTITY_MESSAGE)
        except ContentCorrupted:
            raise InvalidInput("sealed: not a message sealed by identity for notify") from None
        request = parse(IdentityMessage, opened)
        message = messages.identity_message(request.kind, request.code, request.valid_minutes, request.language)
        settings = Settings.from_env()
        try:
            if request.channel == "sms":
                sms.send_sms(settings, request.to, message.body)
            else:
                mailer.send_email(settings, request.to, message, request.kind)
        except PermanentFailure as error:
            log.warning("%s delivery refused for good: %s", request.kind, error)

    # Events

    @subscribe("notify", "dossier")
    def on_dossier_event(self, payload: dict[str, Any]) -> None:
        self._handle(self.store.received_event(payload))

    @subscribe("notify", "consent")
    def on_consent_event(self, payload: dict[str, Any]) -> None:
        self._handle(self.store.received_event(payload))

    def _handle(self, event: Event | None) -> None:
        """Record every delivery this event calls for, then try them (the job retries what fails)."""
        if event is None:
            return  # malformed: dead-lettered before it got here, or parked
        for whom, professional_id in messages.recipients(event):
            if whom == messages.PATIENT:
                if event.patient_id is None:
                    continue
                preferences = {**NotificationPreferences().model_dump(), **self.store.preferences(event.patient_id)}
                if messages.is_routine(event) and preferences["routine"] == "daily_digest":
                    self.store.add_digest_item({
                        "_id": f"{event.event_id}:digest", "patient_id": event.patient_id,
                        "day": event.occurred_at.date().isoformat(), "at_ms": ms(event.occurred_at),
                        "event": event.model_dump(mode="json")})
                    continue
                channels = messages.channels(preferences["channels"])
            else:
                channels = ["email"]
            for channel in channels:
                now = self.clock.now()
                delivery = self.store.add_delivery({
                    "_id": f"{event.event_id}:{whom}:{channel}", "event_id": event.event_id, "whom": whom,
                    "patient_id": event.patient_id, "professional_id": professional_id, "channel": channel,
                    "events": [event.model_dump(mode="json")], "next_ms": ms(now)}, now)
                if delivery is not None:  # else this event was handled before (a redelivery)
                    self._try(delivery, Settings.from_env(), preferences if whom == messages.PATIENT else None)

    def _attempt(self, delivery_id: str) -> None:
        settings = Settings.from_env()
        now = self.clock.now()
        delivery = self.store.claim(delivery_id, now, settings.notify_lease_seconds * 1000)
        if delivery is None:
            return  # someone else holds it, or it is done
        self._try(delivery, settings)

    def _try(self, delivery: dict[str, Any], settings: Settings, preferences: dict[str, Any] | None = None) -> None:
        """Send a delivery this worker has claimed, and record its fate. `preferences`: the patient's, when
        the caller has just read them."""
        delivery_id = delivery["_id"]
        try:
            detail = self._send(delivery, settings, preferences)
        except LeaseLost:
            log.warning("delivery %s was taken over by another attempt; not sent twice", delivery_id)
            return
        except PermanentFailure as error:
            self._finish(delivery, "dead_letter", str(error), settings)
        except TRANSIENT as error:
            reason = f"{type(error).__name__}: {error}"[:200]
            if delivery["attempts"] >= settings.notify_max_attempts:
                self._finish(delivery, "dead_letter", f"gave up after retries: {reason}", settings)
            else:
                backoff = timedelta(seconds=settings.notify_retry_base_seconds * 2 ** (delivery["attempts"] - 1))
                self.store.retry_later(delivery_id, ms(self.clock.now() + backoff), reason)
        else:  # _send noted it in the journal the moment it went out (see journal.py)
            self._finish(delivery, "sent", detail, settings)
            SentJournal(settings.notify_journal_dir).forget({delivery_id})

    def _finish(self, delivery: dict[str, Any], status: str, detail: str, settings: Settings) -> None:
        """Record the outcome while the claim still holds, waiting out a store that is briefly unreachable
        (found by the fault test: the store restarted right after a send, the outcome was not recorded,
        and the retry job sent the message again once the lease ran out). A send whose outcome still
        does not reach the store is in the journal, which the retry job reads first."""
        now = self.clock.now()
        lease_left_ms = delivery["claimed_ms"] + settings.notify_lease_seconds * 1000 - ms(now)
        self.store.finish(delivery["_id"], status, now, detail, patience_seconds=max(0.0, lease_left_ms / 1000 - 1))

    def _send(self, delivery: dict[str, Any], settings: Settings, preferences: dict[str, Any] | None) -> str:
        events = [Event.model_validate(e) for e in delivery["events"]]
        if delivery["whom"] == messages.PATIENT:
            patient_id = delivery["patient_id"]
            contact = self.contacts.of(patient_id, lambda: self.identity.contact_of(patient_id))
            if preferences is None:
                preferences = self.store.preferences(delivery["patient_id"])
            language = preferences.get("language") or contact["language"]
        else:
            contact = self.identity.professional_contact(delivery["professional_id"])
            language = contact["language"]
        address = contact["mobile"] if delivery["channel"] == "sms" else contact["email"]
        if not address:
            raise PermanentFailure(f"no {delivery['channel']} address on file")
        if delivery.get("digest"):
            message = messages.digest(events, language, settings.patient_portal_url)
        else:
            message = messages.compose(events[0], language, settings.patient_portal_url, delivery["whom"])
        held_ms = ms(self.clock.now()) - delivery["claimed_ms"]
        if held_ms > settings.notify_lease_seconds * 1000 // 2 and \
                not self.store.still_held(delivery["_id"], delivery["claimed_ms"]):
            # The lookups took longer than the lease and another attempt took the delivery over: it sends,
            # this one does not (found by the fault test: a patient mailed twice). Only a stall inside the
            # send itself, bounded by the SMTP and SMS timeouts (15 s), can still outlast the lease. Within
            # half the lease nobody can have taken it over (the clocks of notify's nodes agree far better
            # than that), so the store is asked only past it.
            raise LeaseLost(delivery["_id"])
        journal = SentJournal(settings.notify_journal_dir)

        def went_out(detail: str) -> None:  # noted before anything else may stall or kill this worker
            journal.record(delivery["_id"], detail, ms(self.clock.now()))

        if delivery["channel"] == "sms":
            detail = sms.send_sms(settings, address, message.body)
            went_out(detail)
            return detail
        # One Message-ID per delivery, the same on every attempt: mail systems that see it twice keep one.
        return mailer.send_email(settings, address, message, delivery["_id"].replace(":", "."), stable=True,
                                 accepted=went_out)

    @every(5)
    @rpc(callers=(OPERATORS,))
    def retry_due(self) -> dict[str, int]:
        """Try again the deliveries whose time came, and those whose holder died (lease expired), once
        what went out without the store hearing of it is recorded."""
        settings = Settings.from_env()
        self._record_journal(settings)
        due = self.store.due(self.clock.now(), settings.notify_lease_seconds * 1000)
        for delivery_id in due:
            self._attempt(delivery_id)
        return {"attempted": len(due)}

    def _record_journal(self, settings: Settings) -> None:
        """Deliveries that went out while the store was not told (notify died or stalled in between):
        recorded as sent now, so that the retry job does not send them again."""
        journal = SentJournal(settings.notify_journal_dir)
        sent = journal.entries()
        for entry in sent:
            self.store.finish(entry["delivery_id"], "sent", datetime.fromtimestamp(entry["at_ms"] / 1000, UTC),
                              entry["detail"])
        if sent:
            log.warning("recorded %d delivery(ies) sent before notify could record them", len(sent))
            journal.forget({entry["delivery_id"] for entry in sent})

    @every(3600)
    @rpc(callers=(OPERATORS,))
    def send_digests(self) -> dict[str, int]:
        """One message per patient gathering the routine events of each past day."""
        today = self.clock.now().date().isoformat()
        items = self.store.digest_days_before(today)
        groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for item in items:
            groups.setdefault((item["patient_id"], item["day"]), []).append(item)
        for (patient_id, day), day_items in groups.items():
            preferences = {**NotificationPreferences().model_dump(), **self.store.preferences(patient_id)}
            for channel in messages.channels(preferences["channels"]):
                now = self.clock.now()
                delivery = self.store.add_delivery({
                    "_id": f"digest:{patient_id}:{day}:{channel}", "event_id": f"digest:{day}",
                    "whom": messages.PATIENT, "patient_id": patient_id, "professional_id": "", "channel": channel,
                    "digest": True, "events": [i["event"] for i in day_items], "next_ms": ms(now)}, now)
                if delivery is not None:
                    self._try(delivery, Settings.from_env(), preferences)
            self.store.drop_digest_items([i["_id"] for i in day_items])
        return {"digests": len(groups)}

    # The patient's settings and the operators' tools

    def _patient_id(self, token: str, ins: str) -> str:
        grant = Grant.model_validate(self.consent.grant(token, require_ins(ins), Action.MANAGE.value)).require()
        assert grant.patient_id is not None
        return grant.patient_id

    @rpc
    def set_preferences(self, token: str, ins: str, payload: dict[str, Any]) -> dict[str, Any]:
        preferences = parse(NotificationPreferences, payload)
        self.store.set_preferences(self._patient_id(token, ins), preferences.model_dump())
        return preferences.model_dump()

    @rpc
    def preferences(self, token: str, ins: str) -> dict[str, Any]:
        stored = self.store.preferences(self._patient_id(token, ins))
        return NotificationPreferences.model_validate(
            {k: v for k, v in stored.items() if k != "_id"}).model_dump()

    @rpc(callers=(OPERATORS,))
    def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        """Deliveries given up on, with why (operators: `python -m services.notify.dead_letters`)."""
        return [{"delivery_id": d["_id"], "channel": d["channel"], "whom": d["whom"], "attempts": d["attempts"],
                 "reason": (d.get("outcome") or {}).get("detail", "")}
                for d in self.store.dead_letters(max(1, min(int(limit), 1000)))]

    @rpc(callers=(OPERATORS,))
    def replay(self, delivery_id: str) -> dict[str, str]:
        if not isinstance(delivery_id, str) or not delivery_id:
            raise InvalidInput.for_field("delivery_id", "is required")
        if not self.store.replay(delivery_id, ms(self.clock.now())):
            raise NotFound("no such dead letter", [{"field": "delivery_id"}])
        self._attempt(delivery_id)
        return {"delivery_id": delivery_id, "status": "replayed"}
