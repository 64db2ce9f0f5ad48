"""notify: tells patients (and professionals, for their own affairs) what happens in a dossier.

Per the patient's preferences: email, SMS or both; routine events at once or in a daily digest;
emergency access and a professional's first access always at once. Login codes from identity go out
at once by RPC. Every delivery is recorded before it is attempted, and a message is noted in a local
journal as it is handed over, before the store is told (journal.py); failures are retried with
exponential backoff by a job, and after the last attempt (or at once, for an address refused for
good) the delivery goes to a dead-letter list that operators list and replay.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import timedelta

from nameko.exceptions import RemoteError, RpcTimeout

from services.common.clock import Clock
from services.common.entrypoints import every, rpc
from services.common.errors import InvalidInput, NotFound, ServiceUnavailable
from services.common.events import Event
from services.common.grants import Action, Grant
from services.common.health import HealthMixin
from services.common.identifiers import require_ins
from services.common.principals import OPERATORS
from services.common.rpc_client import ServiceRpc
from services.common.sealing import ContentCorrupted, open_json
from services.common.settings import Secret, Settings
from services.common.settings_provider import SettingsProvider
from services.common.store import StoreProvider
from services.common.subscriptions import subscribe
from services.common.validation import parse
from services.consent.client import ConsentClient
from services.identity.client import IdentityClient
from services.notify import mailer, messages, rules, sms
from services.notify.contacts import Contacts, ContactsProvider
from services.notify.exceptions import LeaseLost, PermanentFailure
from services.notify.journal import SentJournal, attempting, in_flight
from services.notify.records import (
    Channel,
    Channels,
    Claim,
    Delivery,
    DigestItem,
    Preferences,
    Routine,
    Sent,
)
from services.notify.schemas import (
    IDENTITY_MESSAGE,
    DeadLetterView,
    IdentityMessage,
    NotificationPreferences,
    SealedIdentityMessage,
)
from services.notify.store import NotifyRecords, NotifyStore

log = logging.getLogger(__name__)


TRANSIENT = (OSError, smtplib.SMTPException, RemoteError, RpcTimeout)  # worth another try later


class NotifyService(HealthMixin):
    name = "notify"

    settings: Settings = SettingsProvider(
        needs=(Secret.IDENTITY_MESSAGE_KEY, Secret.TOKEN_PUBLIC_KEYS, Secret.BUS_PUBLIC_KEYS)
    )
    store: NotifyRecords = StoreProvider(NotifyStore)
    identity: IdentityClient = ServiceRpc("identity")
    contacts: Contacts = ContactsProvider()
    consent: ConsentClient = ServiceRpc("consent")
    clock: Clock = Clock()

    @rpc(callers=("identity",))
    def deliver_identity_message(self, payload: SealedIdentityMessage) -> None:
        """Codes and security notices go out at once; codes are never stored here (nor in any event)."""
        try:
            opened = open_json(
                self.settings.key(Secret.IDENTITY_MESSAGE_KEY), payload.sealed, IDENTITY_MESSAGE
            )
        except ContentCorrupted:
            raise InvalidInput("sealed: not a message sealed by identity for notify") from None
        request = parse(IdentityMessage, opened)
        message = messages.identity_message(
            request.kind, request.code, request.valid_minutes, request.language
        )
        settings = self.settings
        try:
            if request.channel == "sms":
                sms.send(settings, request.to, message.body)
            else:
                mailer.send_email(settings, request.to, message, request.kind)
        except PermanentFailure as error:
            log.warning("%s delivery refused for good: %s", request.kind, error)

    # Events

    @subscribe("notify", "dossier")
    def on_dossier_event(self, payload: object) -> None:  # validated by received_event
        self._handle(self.store.received_event(payload))

    @subscribe("notify", "consent")
    def on_consent_event(self, payload: object) -> None:
        self._handle(self.store.received_event(payload))

    def _handle(self, event: Event | None) -> None:
        """Record every delivery this event calls for, then try them (the job retries what fails)."""
        if event is None:
            return  # malformed: dead-lettered before it got here, or parked
        for whom, professional_id in messages.recipients(event):
            preferences = None
            if whom == messages.PATIENT:
                if event.patient_id is None:
                    continue
                preferences = self.store.preferences(event.patient_id)
                if rules.waits_for_digest(event, preferences):
                    self.store.add_digest_item(DigestItem.of(event, event.patient_id))
                    continue
                channels = rules.channels(preferences)
            else:
                channels = rules.professional_channels()
            for channel in channels:
                claim = self.store.add_delivery(
                    Delivery.of_event(event, whom, professional_id, channel), self.clock.now()
                )
                if claim is not None:  # else this event was handled before (a redelivery)
                    self._try(claim, self.settings, preferences)

    def _attempt(self, delivery_id: str) -> None:
        if in_flight(delivery_id):
            return  # an attempt of this process still has it, past its lease: it alone may send it
        settings = self.settings
        claim = self.store.claim(delivery_id, self.clock.now(), lease(settings))
        if claim is None:
            return  # someone else holds it, or it is done
        self._try(claim, settings)

    def _try(
        self, claim: Claim, settings: Settings, preferences: Preferences | None = None
    ) -> None:
        """Send a delivery this worker has claimed, and record its fate. `preferences`: the patient's, when
        the caller has just read them."""
        delivery_id = claim.delivery.delivery_id
        journal = SentJournal(settings.notify_journal_dir)
        with attempting(delivery_id):
            try:
                detail = self._send(claim, settings, journal, preferences)
            except LeaseLost:
                log.warning(
                    "delivery %s was taken over by another attempt; not sent twice", delivery_id
                )
            except (PermanentFailure, *TRANSIENT) as error:
                journal.forget({delivery_id})  # noted as it was handed over, then refused
                self._failed(claim, error, settings)
            else:
                self.store.sent(
                    delivery_id, self.clock.now(), detail, self._patience(claim, settings)
                )
                journal.forget({delivery_id})

    def _failed(self, claim: Claim, error: Exception, settings: Settings) -> None:
        """A dead letter for a refusal for good or a last attempt; else another try later."""
        reason = str(error)
        if not isinstance(error, PermanentFailure):
            reason = f"{type(error).__name__}: {error}"[:200]
            if not rules.gives_up(claim.attempts, settings.notify_max_attempts):
                base = timedelta(seconds=settings.notify_retry_base_seconds)
                self.store.retry_later(
                    claim, rules.next_attempt(self.clock.now(), claim.attempts, base), reason
                )
                return
            reason = f"gave up after retries: {reason}"
        self.store.dead_letter(claim, self.clock.now(), reason, self._patience(claim, settings))

    def _patience(self, claim: Claim, settings: Settings) -> timedelta:
        """How long an outcome's record may wait out a store that is briefly unreachable: while the claim
        holds (found by the fault test: the store restarted right after a send, the outcome was not
        recorded, and the retry job sent the message again once the lease ran out). A send whose outcome
        still does not reach the store is in the journal, which the retry job reads first."""
        return rules.patience(claim.claimed_at, self.clock.now(), lease(settings))

    def _send(
        self,
        claim: Claim,
        settings: Settings,
        journal: SentJournal,
        preferences: Preferences | None,
    ) -> str:
        delivery = claim.delivery
        if delivery.whom == messages.PATIENT:
            patient_id = delivery.patient_id
            if patient_id is None:  # a patient's delivery is made only for an event with one
                raise PermanentFailure("a patient's delivery that names no patient")
            contact = self.contacts.of(patient_id, lambda: self.identity.contact_of(patient_id))
            if preferences is None:
                preferences = self.store.preferences(patient_id)
            language = preferences.language or contact["language"]
        else:
            contact = self.identity.professional_contact(delivery.professional_id)
            language = contact["language"]
        address = contact["mobile"] if delivery.channel is Channel.SMS else contact["email"]
        if not address:
            raise PermanentFailure(f"no {delivery.channel.value} address on file")
        if delivery.digest:
            message = messages.digest(list(delivery.events), language, settings.patient_portal_url)
        else:
            message = messages.compose(
                delivery.events[0], language, settings.patient_portal_url, delivery.whom
            )
        if rules.may_be_taken_over(
            claim.claimed_at, self.clock.now(), lease(settings)
        ) and not self.store.still_held(claim):
            # The lookups took longer than the lease and another attempt took the delivery over: it sends,
            # this one does not (found by the fault test: a patient mailed twice). Only a stall inside the
            # send itself, bounded by the SMTP and SMS timeouts (15 s), can still outlast the lease.
            raise LeaseLost(delivery.delivery_id)

        def went_out(
            detail: str,
        ) -> None:  # noted before anything else may stall or kill this worker
            journal.went_out(Sent(delivery.delivery_id, detail, self.clock.now()))

        if delivery.channel is Channel.SMS:
            return sms.send(
                settings,
                address,
                message.body,
                committing=lambda: went_out("handed to the SMS gateway"),
            )
        # One Message-ID per delivery, the same on every attempt: mail systems that see it twice keep one.
        return mailer.send_email(
            settings,
            address,
            message,
            delivery.delivery_id.replace(":", "."),
            stable=True,
            committing=went_out,
        )

    @every(5)
    @rpc(callers=(OPERATORS,))
    def retry_due(self) -> dict[str, int]:
        """Try again the deliveries whose time came, and those whose holder died (lease expired), once
        what went out without the store hearing of it is recorded."""
        settings = self.settings
        self._record_journal(settings)
        due = self.store.due(self.clock.now(), lease(settings))
        for delivery_id in due:
            self._attempt(delivery_id)
        return {"attempted": len(due)}

    def _record_journal(self, settings: Settings) -> None:
        """Deliveries that went out while the store was not told (notify died or stalled in between):
        recorded as sent now, so that the retry job does not send them again."""
        journal = SentJournal(settings.notify_journal_dir)
        sent = journal.unrecorded()
        for message in sent:
            self.store.sent(message.delivery_id, message.at, message.detail)
        if sent:
            log.warning("recorded %d delivery(ies) sent before notify could record them", len(sent))
            journal.forget({message.delivery_id for message in sent})

    @every(3600)
    @rpc(callers=(OPERATORS,))
    def send_digests(self) -> dict[str, int]:
        """One message per patient gathering the routine events of each past day."""
        digests = rules.digests(self.store.digest_days_before(self.clock.now().date()))
        for digest in digests:
            preferences = self.store.preferences(digest.patient_id)
            for channel in rules.channels(preferences):
                claim = self.store.add_delivery(digest.delivery(channel), self.clock.now())
                if claim is not None:
                    self._try(claim, self.settings, preferences)
            self.store.drop_digest(digest)
        return {"digests": len(digests)}

    # The patient's settings and the operators' tools

    def _patient_id(self, token: str, ins: str) -> str:
        grant = Grant.model_validate(
            self.consent.grant(token, require_ins(ins), Action.MANAGE.value)
        ).require()
        if grant.patient_id is None:
            raise ServiceUnavailable("consent named no patient for this dossier; try again")
        return grant.patient_id

    @rpc
    def set_preferences(
        self, token: str, ins: str, payload: NotificationPreferences
    ) -> NotificationPreferences:
        self.store.set_preferences(
            self._patient_id(token, ins),
            Preferences(Channels(payload.channels), Routine(payload.routine), payload.language),
        )
        return payload

    @rpc
    def preferences(self, token: str, ins: str) -> NotificationPreferences:
        stored = self.store.preferences(self._patient_id(token, ins))
        return NotificationPreferences.model_validate(
            {
                "channels": stored.channels.value,
                "routine": stored.routine.value,
                "language": stored.language,
            }
        )

    @rpc(callers=(OPERATORS,))
    def dead_letters(self, limit: int = 100) -> list[DeadLetterView]:
        """Deliveries given up on, with why (operators: `python -m services.notify.dead_letters`)."""
        return [
            DeadLetterView(
                delivery_id=letter.delivery_id,
                channel=letter.channel.value,
                whom=letter.whom,
                attempts=letter.attempts,
                reason=letter.reason,
            )
            for letter in self.store.dead_letters(max(1, min(int(limit), 1000)))
        ]

    @rpc(callers=(OPERATORS,))
    def replay(self, delivery_id: str) -> dict[str, str]:
        if not isinstance(delivery_id, str) or not delivery_id:
            raise InvalidInput.for_field("delivery_id", "is required")
        if not self.store.replay(delivery_id, self.clock.now()):
            raise NotFound("no such dead letter", [{"field": "delivery_id"}])
        self._attempt(delivery_id)
        return {"delivery_id": delivery_id, "status": "replayed"}


def lease(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.notify_lease_seconds)
