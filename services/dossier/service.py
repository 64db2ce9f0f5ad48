"""dossier: the record itself. Every call asks consent for a grant and enforces it here."""

from __future__ import annotations

import base64
import re
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import replace
from datetime import timedelta
from functools import partial
from typing import Any, TypedDict, TypeVar

from services.common import sealing
from services.common.actors import Actor, ActorKind
from services.common.clock import Clock
from services.common.entrypoints import every, rpc
from services.common.errors import (
    AccessDenied,
    Conflict,
    DmpError,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    ServiceUnavailable,
)
from services.common.events import Event, EventType, Outcome
from services.common.grants import Action, Grant, visibility_data
from services.common.health import HealthMixin
from services.common.identifiers import require_ins
from services.common.ids import new_id
from services.common.principals import CLIENTS, OPERATORS
from services.common.rpc_client import ServiceRpc
from services.common.settings import Secret, Settings
from services.common.settings_provider import SettingsProvider
from services.common.store import StoreProvider
from services.common.tokens import verify
from services.common.validation import parse
from services.consent.client import ConsentClient
from services.dossier import (
    crypto,
    documents,
    feed,
    formats,
    lifecycle,
    personal_space,
    rules,
    submission_sets,
    summary,
)
from services.dossier.records import (
    Document,
    DocumentStatus,
    Dossier,
    DossierState,
    FeedLine,
    Metadata,
    Status,
    SubmissionSet,
)
from services.dossier.schemas import (
    Access,
    CareSummaryAnswer,
    DocumentAdded,
    DocumentFound,
    DocumentMetadata,
    DocumentPage,
    DocumentRead,
    DocumentSearch,
    DocumentSubmission,
    DossierOpening,
    Lifecycle,
    Opened,
    PersonalSpaceAnswer,
    PersonalSpaceUpdate,
    PurgeRecordView,
    ReimbursementBatch,
    ReimbursementLines,
    ReimbursementReport,
    ReimbursementSearch,
    SubmissionSetAdded,
    SubmissionSetFound,
    SubmissionSetPage,
    SubmissionSetSearch,
    SubmissionSetSubmission,
    SubmissionSetView,
    Transitioned,
    VisibilityChange,
)
from services.dossier.store import DossierRecords, DossierStore, idempotency_reference

DOCUMENT_ID = re.compile(r"doc_[0-9a-f]{32}")
MAX_DOCUMENTS_TOGETHER = 20  # one submission set; each document is at most max_document_bytes
T = TypeVar("T")


class RequestedDocument(TypedDict, total=False):
    """The fields of a trace that name a requested document (see `requested`)."""

    document_id: str
    data: dict[str, str]


def requested(document_id: Any, action: Action) -> RequestedDocument:
    """The fields of a trace that name a requested document: its id when it has the shape of one, else
    only that it was malformed (a guess of any length or content never lands in the trail)."""
    text = str(document_id)
    if DOCUMENT_ID.fullmatch(text):
        return {"document_id": text, "data": {"action": action.value}}
    return {"data": {"action": action.value, "requested": "malformed id"}}


def no_such_document() -> NotFound:
    """The one answer for a document id the caller may not see, whatever the reason (unknown, hidden,
    another patient's, outside their matrix row): nothing in it tells the cases apart."""
    return NotFound("no such document", [{"field": "document_id"}])


def no_such_submission_set() -> NotFound:
    """The one answer for a submission set the caller may not see, whatever the reason."""
    return NotFound("no such submission set", [{"field": "submission_set_id"}])


# What a refused attempt is traced under when the refusal is not an access rule's.
REFUSAL_RULES = {
    Conflict: "R-STATE-CONFLICT",
    InvalidInput: "R-INVALID-REQUEST",
    PayloadTooLarge: "R-INVALID-REQUEST",
    NotFound: "R-UNKNOWN-DOCUMENT",
}


def access_note(grant: Grant) -> Access:
    """Said with every release of content: under which rule, and whether it is an emergency access."""
    return Access(rule=grant.rule, emergency=grant.emergency, expires_at=grant.expires_at)


class DossierService(HealthMixin):
    name = "dossier"

    settings: Settings = SettingsProvider(needs=(Secret.MASTER_KEY, Secret.TOKEN_PUBLIC_KEYS))
    store: DossierRecords = StoreProvider(DossierStore)
    consent: ConsentClient = ServiceRpc("consent")
    clock: Clock = Clock()
    # Per worker (nameko makes a service instance per call): the attempt under way, once its dossier is
    # known, and whether its refusal was already traced.
    attempt: tuple[Actor, Grant, Dossier] | None = None
    subject: str | None = None  # the document it names, once found
    refusal_traced = False

    # Helpers: asking consent, refusing with a trace, finding the dossier.

    def _grant(self, token: str, ins: str, action: Action) -> Grant:
        return Grant.model_validate(self.consent.grant(token, ins, action.value))

    def _refuse(
        self, actor: Actor, grant: Grant, dossier: Dossier | None, **ids: Any
    ) -> AccessDenied:
        """Trace the refusal, then return the error to raise."""
        fields = {"data": {"action": grant.action.value}, **ids}
        event = Event.of(
            EventType.ACCESS_DENIED,
            self.name,
            self.clock.now(),
            actor,
            outcome=Outcome.DENIED,
            rule=grant.rule,
            emergency=grant.emergency,
            patient_id=grant.patient_id,
            dossier_id=dossier.id if dossier else None,
            **fields,
        )
        self.store.record_access(event)
        self.refusal_traced = True
        return AccessDenied.by_rule(grant.rule, grant.reason)

    def refused(self, error: DmpError) -> None:
        """Told by the entrypoint of every error answered on purpose: a refused attempt on a dossier
        (a conflict, bad input, the author's rule) is traced with its rule, like a refused access."""
        if self.attempt is None or self.refusal_traced or isinstance(error, ServiceUnavailable):
            return
        actor, grant, dossier = self.attempt
        rule = next((d["rule"] for d in error.details if "rule" in d), None) or REFUSAL_RULES.get(
            type(error), "R-INVALID-REQUEST"
        )
        named = {"document_id": self.subject} if self.subject else {}
        self._refuse(
            actor,
            grant.refused(rule),
            dossier,
            data={"action": grant.action.value, "refused": error.code},
            **named,
        )

    def _event(
        self,
        kind: EventType,
        actor: Actor,
        dossier: Dossier | DossierState,
        grant: Grant,
        **fields: Any,
    ) -> Event:
        """An event about this dossier, done by this actor under this grant (rule, emergency flag)."""
        return Event.of(
            kind,
            self.name,
            self.clock.now(),
            actor,
            patient_id=dossier.patient_id,
            dossier_id=dossier.id,
            rule=grant.rule,
            emergency=grant.emergency,
            **fields,
        )

    def _job_event(self, kind: EventType, about: Dossier | Document, **fields: Any) -> Event:
        """An event of the service's own scheduled jobs (no actor) about a dossier or one of its documents."""
        if isinstance(about, Document):
            fields["document_id"] = about.id
        dossier_id = about.dossier_id if isinstance(about, Document) else about.id
        return Event.of(
            kind,
            self.name,
            self.clock.now(),
            None,
            patient_id=about.patient_id,
            dossier_id=dossier_id,
            **fields,
        )

    def _record_access(
        self, actor: Actor, dossier: Dossier, event: Event, with_it: tuple[Event, ...] = ()
    ) -> None:
        """Trace a release of health data (and `with_it`, the other releases of the same answer), with a
        first_access event the first time a professional sees this dossier."""
        first = rules.tells_first_access(actor) and not self.store.accessed_before(
            dossier.id, actor.id
        )
        # With the document it was to, if any: its trace is hidden from whom the document is hidden.
        also = (
            [
                event.model_copy(
                    update={"event_id": new_id("evt"), "type": EventType.FIRST_ACCESS, "data": {}}
                )
            ]
            if first
            else []
        )
        self.store.record_access(event, [*with_it, *also])
        if first:
            self.store.mark_accessed(dossier.id, actor.id)

    def _allowed(self, token: str, ins: str, action: Action) -> tuple[Actor, Grant, Dossier]:
        actor = verify(token, self.settings)
        ins = require_ins(ins)
        grant = self._grant(token, ins, action)
        dossier = self.store.dossier_by_ins(ins)
        if not grant.allowed:
            raise self._refuse(actor, grant, dossier)
        if dossier is None:
            raise NotFound("this patient has no dossier", [{"field": "ins"}])
        self.attempt = (actor, grant, dossier)
        refusal = lifecycle.content_refusal(dossier, action)
        if refusal is not None:
            raise self._refuse(actor, grant.refused(refusal), dossier)
        return actor, grant, dossier

    # Entrypoints

    @rpc
    def open(self, token: str, payload: DossierOpening) -> Opened:
        """Open the patient's dossier, recording who opened it, through which channel, and the
        patient's consent to opening."""
        actor = verify(token, self.settings)
        opening = payload
        ins = require_ins(opening.ins)
        grant = self._grant(token, ins, Action.OPEN)
        existing = self.store.dossier_by_ins(ins)
        if not grant.allowed:
            raise self._refuse(actor, grant, existing)
        if existing is not None:
            self.attempt = (actor, grant, existing)
        # A patient allowed to open is the holder or their legal representative: they consent by doing it.
        patient_opens = actor.kind is ActorKind.PATIENT
        if not patient_opens and not opening.patient_consent:
            raise InvalidInput.for_field(
                "patient_consent", "must be true: the patient's consent to opening is required"
            )
        if existing is not None:
            raise Conflict("this patient already has a dossier", [{"state": existing.status.value}])
        if grant.patient_id is None:
            raise ServiceUnavailable("consent named no patient for this INS; nothing was opened")
        now = self.clock.now()
        dossier_id = new_id("dos")
        channel = rules.opening_channel(actor)
        fee = rules.opening_fee(actor, channel, grant.patient_id, dossier_id, now)
        if fee is not None:
            self.store.charge_opening_fee(fee)
        dossier = Dossier(
            id=dossier_id,
            ins=ins,
            patient_id=grant.patient_id,
            status=Status.OPEN,
            opened_at=now,
            opened_by=actor.ref,
            channel=channel.value,
            consent_recorded_by=actor.id,
            key=crypto.new_key(self.settings.master_keys(), dossier_id),
        )
        event = Event.of(
            EventType.DOSSIER_OPENED,
            self.name,
            now,
            actor,
            patient_id=grant.patient_id,
            dossier_id=dossier_id,
            rule=grant.rule,
            emergency=grant.emergency,
            data={"channel": channel.value},
        )
        if not self.store.open_dossier(dossier, event):
            raise Conflict("this patient already has a dossier", [{"state": "open"}])
        return Opened(dossier_id=dossier_id, status="open", channel=channel.value, opened_at=now)

    # Lifecycle: close, reopen, deletion on request, purge.

    def _transition(
        self, token: str, ins: str, transition: str, event_type: EventType
    ) -> Transitioned:
        actor, grant, dossier = self._allowed(token, ins, Action.MANAGE)
        after = lifecycle.transition(dossier, transition, self.clock.now())
        event = self._event(event_type, actor, dossier, grant)
        if not self.store.change_dossier(dossier, after, event):
            raise Conflict(
                "the dossier changed meanwhile; nothing was done, retry", [{"state": "changed"}]
            )
        return Transitioned(
            dossier_id=dossier.id, status=after.status.value, purge_at=after.purge_at
        )

    @rpc
    def status(self, token: str, ins: str) -> Lifecycle:
        """Where the dossier stands in its lifecycle, for the patient's side (those who may manage it)."""
        _, _, dossier = self._allowed(token, ins, Action.MANAGE)
        return Lifecycle.model_validate(
            {"dossier_id": dossier.id, "status": dossier.status.value, **lifecycle.moments(dossier)}
        )

    @rpc
    def close(self, token: str, ins: str) -> Transitioned:
        """Close the dossier: content inaccessible at once, archived 10 years, restored by reopening."""
        return self._transition(token, ins, "close", EventType.DOSSIER_CLOSED)

    @rpc
    def reopen(self, token: str, ins: str) -> Transitioned:
        return self._transition(token, ins, "reopen", EventType.DOSSIER_REOPENED)

    @rpc
    def request_deletion(self, token: str, ins: str) -> Transitioned:
        """Delete on request: the key is destroyed now (content unreadable), the rest purged within 3 months."""
        return self._transition(token, ins, "delete", EventType.DOSSIER_DELETION_REQUESTED)

    @rpc
    def release_document(self, token: str, ins: str, document_id: str) -> DocumentMetadata:
        """The author makes a document visible to the patient (after the announcement consultation)."""
        actor, grant, dossier = self._allowed(token, ins, Action.READ)
        document = self._visible(actor, grant, dossier, document_id)
        rules.check_change(actor, document, "release")
        if rules.INVISIBLE_TO_PATIENT not in document.visibility:
            raise Conflict(
                "the document is already visible to the patient", [{"field": "document_id"}]
            )
        visible = tuple(code for code in document.visibility if code != rules.INVISIBLE_TO_PATIENT)
        return self._change(
            actor,
            grant,
            dossier,
            document,
            document.with_visibility(visible),
            EventType.DOCUMENT_RELEASED,
        )

    @every(3600)
    @rpc(callers=(OPERATORS,))
    def release_due(self) -> dict[str, int]:
        """Hourly: documents invisible to the patient for a month become visible; authors of those still
        invisible after two weeks are reminded (once)."""
        now = self.clock.now()
        released = reminded = 0
        for document in self.store.due_for_release(now):
            after = rules.released(document)
            event = self._job_event(
                EventType.DOCUMENT_RELEASED,
                document,
                data={"automatic": "true", "visibility": visibility_data(after.visibility)},
            )
            if self.store.revise_document(document, after, event, now):
                released += 1
        for document in self.store.due_for_reminder(now):
            event = self._job_event(
                EventType.INVISIBILITY_REMINDER_DUE,
                document,
                data={"author_id": document.author_id},
            )
            if self.store.reminded(document, event):
                reminded += 1
        return {"released": released, "reminded": reminded}

    @every(3600)
    @rpc(callers=(OPERATORS,))
    def discard_abandoned_deposits(self) -> dict[str, int]:
        """Hourly: deposits cut short and not completed by a retry within a day are discarded: their documents,
        never shown to anyone nor told of, go with their content, and their submission set with them, so that
        no health data is kept out of the patient's sight and its unique id may be used afresh."""
        started_before = self.clock.now() - rules.DEPOSIT_ABANDONED_AFTER
        deposits = documents_gone = 0
        for dossier_id, deposit_id in self.store.abandoned_deposits(started_before):
            documents_gone += self.store.discard_deposit(dossier_id, deposit_id)
            deposits += 1
        return {"deposits": deposits, "documents": documents_gone}

    @every(3600)
    @rpc(callers=(OPERATORS,))
    def purge_due(self) -> dict[str, int]:
        """Purge dossiers whose archive has expired or whose deletion is due (hourly; operators may run it)."""
        now = self.clock.now()
        purged = 0
        for dossier in self.store.due_for_purge(now):
            event = self._job_event(EventType.DOSSIER_PURGED, dossier)
            self.store.purge(dossier, event)
            purged += 1
        return {"purged": purged}

    # What audit checks before it erases a trail, or when it verifies one (a lying peer must not erase it).

    @rpc(callers=("audit",))
    def purge_record(self, dossier_id: str) -> PurgeRecordView:
        """Whether this service purged `dossier_id`, and whose it was."""
        if not isinstance(dossier_id, str) or not dossier_id:
            raise InvalidInput.for_field("dossier_id", "required")
        record = self.store.purge_record(dossier_id)
        if record is None:
            return PurgeRecordView(purged=False, patient_id=None)
        return PurgeRecordView(
            purged=True, patient_id=record.patient_id, purged_at=record.purged_at
        )

    @rpc(callers=("audit",))
    def dossiers_of(self, patient_ids: list[str]) -> dict[str, dict[str, str]]:
        """The dossier each of these patients has now (status, when it opened); at most 500 at a time."""
        if (
            not isinstance(patient_ids, list)
            or len(patient_ids) > 500
            or not all(isinstance(item, str) for item in patient_ids)
        ):
            raise InvalidInput.for_field("patient_ids", "a list of at most 500 patient ids")
        return {
            dossier.patient_id: {
                "status": dossier.status.value,
                "opened_at": dossier.opened_at.isoformat(),
            }
            for dossier in self.store.dossiers_of(patient_ids)
        }

    # The personal space

    @rpc
    def personal_space(self, token: str, ins: str) -> PersonalSpaceAnswer:
        """Blood group, allergies, treatments, contacts, wishes: for the patient's side, and for
        professionals whose matrix row reads the patient's own documents (class 90)."""
        actor, grant, dossier = self._allowed(token, ins, Action.READ)
        if not grant.covers(rules.PATIENT_CATEGORY):
            raise self._refuse(actor, grant.for_category(rules.PATIENT_CATEGORY), dossier)
        version = self.store.personal_space(dossier.id)
        event = self._event(EventType.PERSONAL_SPACE_READ, actor, dossier, grant)
        self._record_access(actor, dossier, event)  # traced before anything leaves
        return personal_space.answer(self.settings.master_keys(), dossier, version)

    @rpc
    def update_personal_space(
        self, token: str, ins: str, payload: PersonalSpaceUpdate
    ) -> PersonalSpaceAnswer:
        """The patient (or their representative) replaces the personal space; every version is kept."""
        update = payload
        actor, grant, dossier = self._allowed(token, ins, Action.MANAGE)
        version = update.version + 1
        written = personal_space.sealed(
            self.settings.master_keys(),
            dossier,
            update.content,
            version,
            self.clock.now(),
            actor.ref,
        )
        event = self._event(
            EventType.PERSONAL_SPACE_UPDATED, actor, dossier, grant, data={"version": str(version)}
        )
        if not self.store.save_personal_space(dossier.id, update.version, written, event):
            current = self.store.personal_space(dossier.id)
            raise Conflict(
                "the personal space was changed meanwhile; reload it and apply your change again",
                [{"field": "version", "current": str(current.version if current else 0)}],
            )
        return personal_space.answer(self.settings.master_keys(), dossier, written)

    @rpc
    def personal_space_history(self, token: str, ins: str) -> list[PersonalSpaceAnswer]:
        """Every version of the personal space, newest first (the patient's side only)."""
        _, _, dossier = self._allowed(token, ins, Action.MANAGE)
        return [
            personal_space.answer(self.settings.master_keys(), dossier, version)
            for version in self.store.personal_space_history(dossier.id)
        ]

    # The reimbursement feed

    @rpc(callers=(CLIENTS, OPERATORS))
    def add_reimbursements(self, token: str, payload: ReimbursementBatch) -> ReimbursementReport:
        """Reimbursement lines for many patients at once, idempotent by line id. Lines older than 24 months,
        malformed, or for a patient without an open dossier are refused one by one, with the reason."""
        actor = verify(token, self.settings)
        grant = Grant.model_validate(
            self.consent.grant_for_any_patient(token, Action.WRITE.value)
        ).require()
        batch = payload
        now = self.clock.now()
        lines, rejected, repeats = feed.sort_lines(batch.lines, now.date())
        dossiers = self.store.dossiers_by_ins(sorted({line.ins for line in lines}))
        received = []
        for line in lines:
            dossier = dossiers.get(line.ins)
            if dossier is None or not dossier.is_open:
                rejected.append(
                    {"line_id": line.line_id, "reason": "ins: the patient has no open dossier"}
                )
                continue
            received.append(
                FeedLine(
                    line_id=line.line_id,
                    dossier_id=dossier.id,
                    care_date=line.care_date,
                    items=tuple(line.items),
                    billed_cents=line.billed_cents,
                    reimbursed_cents=line.reimbursed_cents,
                    prescriber_rpps=line.prescriber_rpps,
                )
            )
        inserted = self.store.add_reimbursements(received, now)
        per_dossier = Counter(line.dossier_id for line in inserted)
        by_id = {dossier.id: dossier for dossier in dossiers.values()}
        events = [
            self._event(
                EventType.REIMBURSEMENTS_ADDED,
                actor,
                by_id[dossier_id],
                grant,
                data={"lines": str(per_dossier[dossier_id])},
            )
            for dossier_id in per_dossier
        ]
        self.store.record_feed(new_id("feed"), events)
        duplicates = len(received) - len(inserted) + repeats
        return ReimbursementReport(accepted=len(inserted), duplicates=duplicates, rejected=rejected)

    @rpc
    def reimbursements(
        self, token: str, ins: str, query: ReimbursementSearch | None = None
    ) -> ReimbursementLines:
        """The patient's reimbursement lines ("données de remboursement", class 60), newest care first."""
        page_request = query or ReimbursementSearch()
        actor, grant, dossier = self._allowed(token, ins, Action.READ)
        if not grant.covers(rules.FEED_CATEGORY):
            raise self._refuse(actor, grant.for_category(rules.FEED_CATEGORY), dossier)
        total, page, next_cursor = self.store.reimbursements_page(
            dossier.id, page_request.cursor, page_request.limit
        )
        event = self._event(
            EventType.DOCUMENTS_LISTED,
            actor,
            dossier,
            grant,
            data={"count": str(len(page)), "category": rules.FEED_CATEGORY},
        )
        self._record_access(actor, dossier, event)  # traced before anything leaves
        return ReimbursementLines(
            lines=[feed.answer(line) for line in page], total=total, next_cursor=next_cursor
        )

    # The care summary

    @rpc
    def care_summary(self, token: str, ins: str) -> CareSummaryAnswer:
        """One screen for a professional: medicines and acts of the last 24 months (class 60), the latest document
        of each category, the allergies of the personal space (class 90), under the document list's grant: a part
        the caller's matrix row does not read is withheld, naming the rule."""
        actor, grant, dossier = self._allowed(token, ins, Action.READ)
        today = self.clock.now().date()
        withheld: list[summary.Withheld] = []
        items: list[summary.FeedItem] | None = None
        if grant.covers(rules.FEED_CATEGORY):
            items = [
                item
                for line in self.store.reimbursements_since(dossier.id, summary.window_start(today))
                for item in summary.FeedItem.of(line)
            ]
        else:
            withheld.append(
                summary.Withheld(
                    summary.Part.REIMBURSEMENTS, grant.for_category(rules.FEED_CATEGORY).rule
                )
            )
        allergies: tuple[summary.AllergyEntry, ...] | None = None
        if grant.covers(rules.PATIENT_CATEGORY):
            allergies = summary.allergies_of(
                personal_space.content(
                    self.settings.master_keys(), dossier, self.store.personal_space(dossier.id)
                )
            )
        else:
            withheld.append(
                summary.Withheld(
                    summary.Part.ALLERGIES, grant.for_category(rules.PATIENT_CATEGORY).rule
                )
            )
        # The document list's own query: the grant's categories and visibility, current documents only.
        entries = [
            summary.DocumentEntry.of(document)
            for document in self.store.visible_documents(dossier.id, grant, actor.id)
        ]
        care = summary.summarise(
            today, feed=items, documents=entries, allergies=allergies, withheld=withheld
        )
        released = [
            part
            for part, shown in (
                ("documents", True),
                ("reimbursements", items is not None),
                ("personal_space", allergies is not None),
            )
            if shown
        ]
        event = self._event(
            EventType.DOCUMENTS_LISTED,
            actor,
            dossier,
            grant,
            data={
                "view": "summary",
                "count": str(len(care.latest_documents)),
                "released": ",".join(released),
            },
        )
        space_read = (
            self._event(
                EventType.PERSONAL_SPACE_READ, actor, dossier, grant, data={"view": "summary"}
            ),
        )
        # before anything leaves
        self._record_access(actor, dossier, event, space_read if allergies is not None else ())
        return CareSummaryAnswer.model_validate(
            {**summary.to_json(care), "access": access_note(grant)}
        )

    @rpc(callers=(OPERATORS,))
    def rewrap_keys(self, limit: int = 500) -> dict[str, int]:
        """Operator action during a master-key rotation: re-wrap data keys with the current master key
        (DMP_MASTER_KEY), the old one being in DMP_PREVIOUS_MASTER_KEYS. Content is not re-encrypted."""
        current = crypto.fingerprint(self.settings.key(Secret.MASTER_KEY))
        done = 0
        for dossier in self.store.keys_to_rewrap(current, max(1, min(int(limit), 5000))):
            key = crypto.rewrapped(self.settings.master_keys(), dossier)
            if key is None:
                continue
            event = self._job_event(EventType.DOSSIER_KEY_REWRAPPED, dossier)
            if self.store.change_dossier(dossier, replace(dossier, key=key), event):
                done += 1
        return {"rewrapped": done, "remaining": self.store.count_keys_to_rewrap(current)}

    @rpc(callers=(OPERATORS,))
    def pharmacy_fees(self, month: str) -> list[dict[str, str]]:
        """The opening fees owed to pharmacies for a month (YYYY-MM): one line per dossier opened."""
        if not lifecycle.MONTH.match(str(month)):
            raise InvalidInput.for_field("month", "must be YYYY-MM")
        return [
            {
                "organisation": fee.organisation,
                "pharmacist_id": fee.pharmacist_id,
                "dossier_id": fee.dossier_id,
                "opened_at": fee.opened_at.isoformat(),
            }
            for fee in self.store.opening_fees(month)
        ]

    # Documents

    def _store_document(
        self,
        actor: Actor,
        grant: Grant,
        dossier: Dossier,
        submission: DocumentSubmission,
        replaces: Document | None = None,
        idempotency: tuple[str, str] | None = None,
    ) -> Document:
        return self._stored(
            actor,
            grant,
            dossier,
            self._checked(actor, grant, dossier, submission, replaces),
            submission,
            replaces,
            idempotency,
        )

    def _checked(
        self,
        actor: Actor,
        grant: Grant,
        dossier: Dossier,
        submission: DocumentSubmission,
        replaces: Document | None = None,
    ) -> tuple[Metadata, bytes, str]:
        """Every check of a deposit, nothing stored: (metadata, content, digest)."""
        if not grant.covers(submission.category):
            raise self._refuse(actor, grant.for_category(submission.category), dossier)
        rules.check_format_for(submission.category, submission.format)
        rules.check_visibility_at_deposit(actor, submission.visibility)
        carried = rules.carried_over(replaces.visibility, submission.visibility) if replaces else []
        settings = self.settings
        content = rules.decode_content(submission.content, settings.max_document_bytes)
        problem = formats.mismatch(submission.format, content)
        if problem:
            raise InvalidInput.for_field("content", problem)
        digest = rules.sha256(content)
        metadata = documents.metadata_of(submission, carried)
        if self.store.same_document(dossier.id, digest, metadata):
            raise Conflict(
                "an identical document is already in this dossier", [{"field": "content"}]
            )
        if submission.unique_id and self.store.unique_id_used(dossier.id, submission.unique_id):
            raise Conflict(
                "a document with this unique_id is already in this dossier (a new version has its own)",
                [{"field": "unique_id"}],
            )
        return metadata, content, digest

    def _stored(
        self,
        actor: Actor,
        grant: Grant,
        dossier: Dossier,
        checked: tuple[Metadata, bytes, str],
        submission: DocumentSubmission,
        replaces: Document | None = None,
        idempotency: tuple[str, str] | None = None,
        document_id: str | None = None,
        pending: str | None = None,
    ) -> Document:
        """Store a checked deposit; `idempotency`: the (actor, key) reference and the request's fingerprint;
        `document_id`: its id when the caller needed it before (a submission set names its documents first);
        `pending`: the deposit it waits for (hidden, its event held, until store.release_deposit)."""
        metadata, content, digest = checked
        carried = metadata.visibility[len(submission.visibility) :]
        now = self.clock.now()
        document_id = document_id or new_id("doc")
        key = crypto.data_key(self.settings.master_keys(), dossier)
        self.store.put_content(document_id, sealing.seal(key, content, document_id))
        release_at, remind_at = rules.invisibility_schedule(
            submission.visibility, carried, replaces, now
        )
        document = Document(
            id=document_id,
            dossier_id=dossier.id,
            patient_id=dossier.patient_id,
            metadata=metadata,
            author=actor.ref,
            author_name=documents.author_name(actor),
            created_at=now,
            size=len(content),
            sha256=digest,
            replaces=replaces.id if replaces else None,
            release_at=release_at,
            remind_at=remind_at,
            idempotency=idempotency[0] if idempotency else None,
            idempotency_fingerprint=idempotency[1] if idempotency else None,
            pending=pending,
        )
        event = self._event(
            EventType.DOCUMENT_ADDED,
            actor,
            dossier,
            grant,
            document_id=document_id,
            data={
                "category": submission.category,
                **({"replaces": replaces.id} if replaces else {}),
                # The patient is told of it only once it is released to them.
                **(
                    {"invisible_to_patient": "true"}
                    if rules.INVISIBLE_TO_PATIENT in metadata.visibility
                    else {}
                ),
                # Audit hides the document's traces from whom it hides the document.
                "visibility": visibility_data(metadata.visibility),
            },
        )
        self.store.add_document(document, event)
        return document

    @rpc
    def add_document(
        self, token: str, ins: str, payload: DocumentSubmission, idempotency_key: str | None = None
    ) -> DocumentAdded:
        """Deposit a document. With an idempotency key, a retried request (same key, same body) answers
        the document of the first one instead of creating a second."""
        submission = payload
        actor, grant, dossier = self._allowed(token, ins, Action.WRITE)
        if idempotency_key is None:
            return DocumentAdded.of(
                documents.as_answered(self._store_document(actor, grant, dossier, submission))
            )
        key = rules.check_idempotency_key(idempotency_key)
        fingerprint = rules.request_fingerprint(ins, documents.as_sent(submission))
        stale = timedelta(seconds=self.settings.idempotency_claim_seconds)
        claim = self.store.claim_idempotency(actor.id, key, fingerprint, self.clock.now(), stale)
        replay = rules.replayed(
            fingerprint, claim, self.store.document_by_idempotency(dossier.id, actor.id, key)
        )
        if replay is not None:
            if replay.complete_claim:
                self.store.complete_idempotency(actor.id, key, replay.document_id)
            document = replay.document or self.store.document(dossier.id, replay.document_id)
            if document is None:
                raise ServiceUnavailable(
                    "the document this Idempotency-Key names is missing; nothing was stored"
                )
            return DocumentAdded.of(documents.as_answered(document), replayed=True)
        try:
            stored = self._store_document(
                actor,
                grant,
                dossier,
                submission,
                idempotency=(idempotency_reference(actor.id, key), fingerprint),
            )
        except Exception:
            self.store.release_idempotency(actor.id, key)  # let a retry try again
            raise
        self.store.complete_idempotency(actor.id, key, stored.id)
        return DocumentAdded.of(documents.as_answered(stored))

    @rpc
    def add_documents(
        self,
        token: str,
        ins: str,
        payloads: list[dict[str, object]],
        replaces: list[str | None] | None = None,
    ) -> list[DocumentMetadata]:
        """Deposit several documents of one patient together (an ITI-65 submission set): every one is checked
        (metadata, rights, content, duplicates, also among themselves, and the document it replaces, if any)
        before any is stored, so one bad document stores nothing. A refusal names the document by its position
        (`entry`). `replaces[i]`: the id of the document the i-th one is a new version of (same rules as
        replace_document)."""
        return self._deposit_together(token, ins, payloads, replaces, None)[1]

    @rpc
    def add_submission_set(
        self,
        token: str,
        ins: str,
        submission_set: SubmissionSetSubmission,
        payloads: list[dict[str, object]],
        replaces: list[str | None] | None = None,
    ) -> SubmissionSetAdded:
        """add_documents, keeping the submission set itself (ITI-65's SubmissionSet List, found by ITI-66): who
        submitted which documents, in order, with what its source says of it. Its unique_id is used once per
        dossier; a refusal of the set names `submission_set.<field>`."""
        set_id, stored = self._deposit_together(token, ins, payloads, replaces, submission_set)
        return SubmissionSetAdded(submission_set_id=str(set_id), documents=stored)

    def _deposit_together(
        self,
        token: str,
        ins: str,
        payloads: list[dict[str, object]],
        replaces: list[str | None] | None,
        submission_set: SubmissionSetSubmission | None,
    ) -> tuple[str | None, list[DocumentMetadata]]:
        """(the submission set's id, if one is kept; the documents stored, in order).

        All or nothing as any reader sees it: the set is written first, then each document pending (hidden
        from every read, its event held), then all of them are released in one write, the deposit's commit;
        only then are the documents they replace superseded. A failure before the release leaves nothing
        anybody is shown; a retry of the same request (the set's unique id, the same body, the same actor)
        writes what is missing and releases it, or answers the deposit already complete, never a second one."""
        if not isinstance(payloads, list) or not 1 <= len(payloads) <= MAX_DOCUMENTS_TOGETHER:
            raise InvalidInput.for_field(
                "documents", f"must be 1 to {MAX_DOCUMENTS_TOGETHER} documents"
            )
        olds_ids = replaces if isinstance(replaces, list) else [None] * len(payloads)
        if len(olds_ids) != len(payloads):
            raise InvalidInput.for_field("replaces", "names one document (or none) per document")
        submissions = [
            self._at(index, partial(parse, DocumentSubmission, payload))
            for index, payload in enumerate(payloads)
        ]
        actor, grant, dossier = self._allowed(token, ins, Action.WRITE)
        # What tells a retry of this set from another use of its unique id (a set's deposit alone is retried).
        fingerprint = (
            rules.request_fingerprint(
                ins,
                [submission_set.model_dump(mode="json", exclude_unset=True), payloads, olds_ids],
            )
            if submission_set is not None
            else None
        )
        earlier = (
            self.store.submission_set_of_unique_id(dossier.id, submission_set.unique_id)
            if submission_set is not None and submission_set.unique_id
            else None
        )
        if earlier is not None and not self._complete_or_recent(dossier, earlier):
            # Begun too long ago and never completed: discarded now, as the hourly job would, and made anew.
            self.store.discard_deposit(dossier.id, earlier.id)
            earlier = None
        if earlier is not None:
            return self._retried(actor, grant, dossier, earlier, fingerprint, submissions, olds_ids)
        olds = [
            self._at(index, partial(self._changeable, actor, grant, dossier, old_id, "replace"))
            if old_id is not None
            else None
            for index, old_id in enumerate(olds_ids)
        ]
        checked = [
            self._at(index, partial(self._checked, actor, grant, dossier, submission, old))
            for index, (submission, old) in enumerate(zip(submissions, olds, strict=True))
        ]
        documents.check_together(
            [(metadata, digest) for metadata, _, digest in checked],
            [old.id if old else None for old in olds],
        )
        ids = [new_id("doc") for _ in submissions]
        # The set's id; without a set, the mark of this deposit alone.
        deposit_id = submission_sets.set_id_of(
            dossier.id, submission_set.unique_id if submission_set is not None else None
        )
        if submission_set is not None:
            kept = submission_sets.record_of(
                submission_set,
                deposit_id,
                dossier.id,
                dossier.patient_id,
                actor.ref,
                self.clock.now(),
                ids,
                documents.author_name(actor),
                fingerprint,
            )
            if not self.store.add_submission_set(kept):
                # The same set deposited at this very moment by another request: that one's to make.
                earlier = self.store.submission_set_of_unique_id(dossier.id, kept.unique_id or "")
                if earlier is None:  # made and discarded meanwhile: nothing to answer but "retry"
                    raise rules.deposit_in_progress()
                return self._retried(
                    actor, grant, dossier, earlier, fingerprint, submissions, olds_ids
                )
        else:
            self.store.begin_deposit(dossier.id, deposit_id, ids, self.clock.now())
        with self._given_up_on_failure(dossier, deposit_id, submission_set is not None):
            written = {
                document_id: self._stored(
                    actor,
                    grant,
                    dossier,
                    checks,
                    submission,
                    old,
                    document_id=document_id,
                    pending=deposit_id,
                )
                for checks, submission, old, document_id in zip(
                    checked, submissions, olds, ids, strict=True
                )
            }
            self.store.release_deposit(dossier.id, deposit_id)
        stored = self._superseding(actor, grant, dossier, ids, written, olds_ids)
        return (deposit_id if submission_set is not None else None), stored

    def _retried(
        self,
        actor: Actor,
        grant: Grant,
        dossier: Dossier,
        earlier: SubmissionSet,
        fingerprint: str | None,
        submissions: list[DocumentSubmission],
        olds_ids: Sequence[str | None],
    ) -> tuple[str, list[DocumentMetadata]]:
        """A deposit of a set the dossier holds already: the same request again answers (and, cut short,
        completes) that deposit, unless an attempt is still at it; another request is refused."""
        if earlier.author_id != actor.id or earlier.fingerprint != fingerprint:
            raise Conflict(
                "a submission set with this unique_id is already in this dossier",
                [{"field": "submission_set.unique_id"}],
            )
        if earlier.pending:
            claim = timedelta(seconds=self.settings.idempotency_claim_seconds)
            if rules.deposit_under_way(earlier.claimed_at, self.clock.now(), claim):
                raise rules.deposit_in_progress()
            if not self.store.take_over_deposit(earlier, self.clock.now()):
                raise rules.deposit_in_progress()  # another retry took it over first
        with self._given_up_on_failure(dossier, earlier.id, earlier.pending):
            return earlier.id, self._completed(
                actor, grant, dossier, earlier, submissions, olds_ids
            )

    @contextmanager
    def _given_up_on_failure(self, dossier: Dossier, set_id: str, held: bool) -> Iterator[None]:
        """An attempt at a set's deposit that fails says so, so that a retry need not wait for its claim to
        run out (if the store cannot be told either, the retry waits)."""
        try:
            yield
        except BaseException:
            if held:
                with suppress(Exception):
                    self.store.interrupt_deposit(dossier.id, set_id)
            raise

    def _complete_or_recent(self, dossier: Dossier, earlier: SubmissionSet) -> bool:
        if rules.retry_completes(earlier.submitted_at, self.clock.now()):
            return True
        written = self.store.deposited(dossier.id, list(earlier.document_ids))
        return len(written) == len(earlier.document_ids) and all(
            document.pending is None for document in written.values()
        )

    def _completed(
        self,
        actor: Actor,
        grant: Grant,
        dossier: Dossier,
        earlier: SubmissionSet,
        submissions: list[DocumentSubmission],
        olds_ids: Sequence[str | None],
    ) -> list[DocumentMetadata]:
        """A retried deposit: the documents its first attempt did not write are checked and written now, all are
        released, and what they replace is superseded; the documents as the first attempt would have answered."""
        written = self.store.deposited(dossier.id, list(earlier.document_ids))
        for index, (document_id, submission, old_id) in enumerate(
            zip(earlier.document_ids, submissions, olds_ids, strict=True)
        ):
            if document_id in written:
                continue
            # Nothing was released (every document was not written yet): what it replaces is still current.
            old = (
                self._at(index, partial(self._changeable, actor, grant, dossier, old_id, "replace"))
                if old_id is not None
                else None
            )
            checks = self._at(index, partial(self._checked, actor, grant, dossier, submission, old))
            self.store.delete_content(document_id)  # uploaded by the first attempt before it failed
            written[document_id] = self._stored(
                actor,
                grant,
                dossier,
                checks,
                submission,
                old,
                document_id=document_id,
                pending=earlier.id,
            )
        self.store.release_deposit(dossier.id, earlier.id)
        return self._superseding(
            actor, grant, dossier, list(earlier.document_ids), written, olds_ids
        )

    def _superseding(
        self,
        actor: Actor,
        grant: Grant,
        dossier: Dossier,
        document_ids: list[str],
        written: dict[str, Document],
        olds_ids: Sequence[str | None],
    ) -> list[DocumentMetadata]:
        """Once a deposit is released, each document it replaces is superseded (unless a retry finds it done
        already); the deposit's documents, in order. `written`: each as written, pending, before the release."""
        released = {
            document_id: replace(document, pending=None)
            for document_id, document in written.items()
        }
        for document_id, old_id in zip(document_ids, olds_ids, strict=True):
            if old_id is None:
                continue
            old = self.store.document(dossier.id, old_id)
            if old is not None and old.replaced_by == document_id:
                continue  # superseded by the attempt this one retries
            old = self._changeable(actor, grant, dossier, old_id, "replace")
            self._replaced(actor, grant, dossier, old, released[document_id])
        return [documents.as_answered(released[document_id]) for document_id in document_ids]

    @staticmethod
    def _at(index: int, step: Callable[[], T]) -> T:
        """The step's result, or its error told of which document (by position; detail values travel as text)."""
        try:
            return step()
        except DmpError as error:
            raise type(error)(
                f"document {index + 1}: {error.message}",
                [{**detail, "entry": str(index)} for detail in error.details]
                or [{"entry": str(index)}],
            ) from None

    def _document(self, actor: Actor, grant: Grant, dossier: Dossier, document_id: Any) -> Document:
        """The document by its id in this dossier, else the refusal traced (a run of unknown ids is
        someone guessing) and NotFound."""
        document = self.store.document(dossier.id, str(document_id))
        if document is None or document.status is DocumentStatus.DELETED:
            self._refuse(
                actor,
                grant.refused("R-UNKNOWN-DOCUMENT"),
                dossier,
                **requested(document_id, grant.action),
            )
            raise no_such_document()
        self.subject = document.id
        return document

    def _changeable(
        self, actor: Actor, grant: Grant, dossier: Dossier, document_id: Any, change: str
    ) -> Document:
        """The document this actor may change: one they cannot see answers like one that does not exist,
        one they see but did not write is refused by the author's rule (both traced)."""
        document = self._document(actor, grant, dossier, document_id)
        seen = grant.sees(
            actor.id, document.category, list(document.visibility), document.author_id
        )
        if not seen.allowed:
            self._refuse(actor, seen, dossier, document_id=document.id)
            raise no_such_document()
        rules.check_change(actor, document, change)
        return document

    def _change(
        self,
        actor: Actor,
        grant: Grant,
        dossier: Dossier,
        before: Document,
        after: Document,
        event_type: EventType,
        tells_visibility: bool = True,
        expected_revision: int | None = None,
    ) -> DocumentMetadata:
        """Revise a document's metadata (its status, its visibility), the event saying its visibility if that
        is what changed. `expected_revision` (FHIR If-Match) is compared by the store's write itself, so a
        change made meanwhile cannot slip between a check and the write."""
        event = self._event(
            event_type,
            actor,
            dossier,
            grant,
            document_id=before.id,
            data={"visibility": visibility_data(after.visibility)} if tells_visibility else {},
        )
        revised = self.store.revise_document(
            before, after, event, self.clock.now(), expected=expected_revision
        )
        if revised is None and expected_revision is not None:
            raise PreconditionFailed(
                "the document is no longer at the version given (If-Match); nothing was done",
                [{"field": "If-Match"}],
            )
        if revised is None:
            raise Conflict(
                "the document changed meanwhile; nothing was done, retry",
                [{"field": "document_id"}],
            )
        return documents.as_answered(revised)

    def _replaced(
        self, actor: Actor, grant: Grant, dossier: Dossier, old: Document, new: Document
    ) -> None:
        self._change(
            actor,
            grant,
            dossier,
            old,
            replace(old, status=DocumentStatus.REPLACED, replaced_by=new.id),
            EventType.DOCUMENT_REPLACED,
            tells_visibility=False,
        )

    @rpc
    def replace_document(
        self, token: str, ins: str, document_id: str, payload: DocumentSubmission
    ) -> DocumentMetadata:
        """A new version by the same author; the old one stays in history as replaced."""
        submission = payload
        actor, grant, dossier = self._allowed(token, ins, Action.WRITE)
        old = self._changeable(actor, grant, dossier, document_id, "replace")
        new = self._store_document(actor, grant, dossier, submission, replaces=old)
        self._replaced(actor, grant, dossier, old, new)
        return documents.as_answered(new)

    @rpc
    def archive_document(
        self,
        token: str,
        ins: str,
        document_id: str,
        archived: bool = True,
        expected_revision: int | None = None,
    ) -> DocumentMetadata:
        """Archived documents leave the default search (status=archived finds them); reversible.
        `expected_revision`: only if the document is still at this revision (else 412, nothing done)."""
        actor, grant, dossier = self._allowed(token, ins, Action.READ)
        document = self._visible(actor, grant, dossier, document_id)
        rules.check_change(actor, document, "archive")
        expected = DocumentStatus.CURRENT if archived else DocumentStatus.ARCHIVED
        if document.status is not expected:
            raise Conflict(
                f"the document is {document.status.value}", [{"state": document.status.value}]
            )
        kind = EventType.DOCUMENT_ARCHIVED if archived else EventType.DOCUMENT_UNARCHIVED
        status = DocumentStatus.ARCHIVED if archived else DocumentStatus.CURRENT
        return self._change(
            actor,
            grant,
            dossier,
            document,
            replace(document, status=status),
            kind,
            tells_visibility=False,
            expected_revision=expected_revision,
        )

    @rpc
    def delete_document(self, token: str, ins: str, document_id: str) -> DocumentMetadata:
        """Deleted by its author: the content is destroyed; a tombstone stays for the history."""
        actor, grant, dossier = self._allowed(token, ins, Action.WRITE)
        document = self._changeable(actor, grant, dossier, document_id, "delete")
        deleted = self._change(
            actor,
            grant,
            dossier,
            document,
            replace(document, status=DocumentStatus.DELETED),
            EventType.DOCUMENT_DELETED,
            tells_visibility=False,
        )
        self.store.delete_content(document.id)
        return deleted

    @rpc
    def set_visibility(
        self,
        token: str,
        ins: str,
        document_id: str,
        payload: VisibilityChange,
        expected_revision: int | None = None,
    ) -> DocumentMetadata:
        """The patient masks a document from professionals (all but its author) or unmasks it.
        `expected_revision`: only if the document is still at this revision (else 412, nothing done)."""
        change = payload
        actor, grant, dossier = self._allowed(token, ins, Action.MANAGE)
        document = self._visible(actor, grant, dossier, document_id)
        visibility = documents.visibilities(rules.masked(document.visibility, change.masked))
        kind = EventType.DOCUMENT_MASKED if change.masked else EventType.DOCUMENT_UNMASKED
        return self._change(
            actor,
            grant,
            dossier,
            document,
            document.with_visibility(visibility),
            kind,
            expected_revision=expected_revision,
        )

    def _visible(self, actor: Actor, grant: Grant, dossier: Dossier, document_id: Any) -> Document:
        """The document if this actor may see it under this grant. A hidden one (masked, invisible, outside
        the actor's matrix row) answers exactly like one that does not exist; the refusal is traced with
        its real rule."""
        document = self._document(actor, grant, dossier, document_id)
        decision = grant.for_document(
            actor.id, document.category, list(document.visibility), document.author_id
        )
        if not decision.allowed:
            self._refuse(actor, decision, dossier, document_id=document.id)
            raise no_such_document()
        return document

    @rpc(callers=(CLIENTS, OPERATORS))
    def search(
        self, token: str, ins: str | None, query: DocumentSearch | None = None
    ) -> DocumentPage:
        """The documents this actor may see, newest first, a page at a time, with an honest total. Without
        an INS, the query's patient_id names the patient (FHIR's `patient` reference)."""
        search = query or DocumentSearch()
        actor, grant, dossier = self._allowed(
            token, self._ins_of(token, ins, search.patient_id), Action.READ
        )
        total, page, next_cursor = self.store.search_documents(dossier.id, grant, actor.id, search)
        event = self._event(
            EventType.DOCUMENTS_LISTED, actor, dossier, grant, data={"count": str(len(page))}
        )
        self._record_access(actor, dossier, event)  # traced before any metadata leaves
        return DocumentPage(
            documents=[documents.as_answered(document) for document in page],
            total=total,
            next_cursor=next_cursor,
            access=access_note(grant),
            ins=dossier.ins,  # for FHIR's subject, when the search named the patient by id
        )

    def _ins_of(self, token: str, ins: str | None, patient_id: str | None) -> str:
        """The INS a search names, or else that of the patient it names by id. An unknown patient id answers
        like a patient without a dossier, and is traced like an unknown document id."""
        if ins is not None:
            return ins
        if patient_id is None:
            raise InvalidInput.for_field("ins", "is required (or patient_id)")
        dossier = self.store.dossier_by_patient_id(patient_id)
        if dossier is None:
            self.store.record_access(
                Event.of(
                    EventType.ACCESS_DENIED,
                    self.name,
                    self.clock.now(),
                    verify(token, self.settings),
                    outcome=Outcome.DENIED,
                    rule="R-UNKNOWN-PATIENT",
                    data={"action": Action.READ.value},
                )
            )
            self.refusal_traced = True
            raise NotFound("this patient has no dossier", [{"field": "patient_id"}])
        return dossier.ins

    @rpc(callers=(CLIENTS, OPERATORS))
    def search_submission_sets(
        self, token: str, ins: str | None, query: SubmissionSetSearch | None = None
    ) -> SubmissionSetPage:
        """The submission sets of a dossier with at least one document this actor may see, each showing only
        those documents (the document search's own query under the grant), newest first, an honest total.
        Without an INS, the query's patient_id names the patient."""
        search = query or SubmissionSetSearch()
        actor, grant, dossier = self._allowed(
            token, self._ins_of(token, ins, search.patient_id), Action.READ
        )
        candidates = [
            found
            for found in self.store.submission_sets(dossier.id)
            if submission_sets.selected(found, search)
        ]
        views = self._shown(actor, grant, dossier, candidates)
        total, page, next_cursor = submission_sets.page(views, search.limit, search.cursor)
        event = self._event(
            EventType.DOCUMENTS_LISTED,
            actor,
            dossier,
            grant,
            data={"count": str(sum(len(view.documents) for view in page))},
        )
        self._record_access(actor, dossier, event)  # traced before any metadata leaves
        return SubmissionSetPage(
            submission_sets=page,
            total=total,
            next_cursor=next_cursor,
            access=access_note(grant),
            ins=dossier.ins,
        )

    @rpc
    def find_submission_set(self, token: str, submission_set_id: str) -> SubmissionSetFound:
        """A submission set by its id alone (ITI-66's read). One the caller may see none of the documents of, or
        of a dossier they may not read, answers exactly like an unknown id (404)."""
        found = self.store.submission_set(str(submission_set_id))
        dossier = self.store.dossier_by_id(found.dossier_id) if found else None
        if found is None or dossier is None:
            self.store.record_access(
                Event.of(
                    EventType.ACCESS_DENIED,
                    self.name,
                    self.clock.now(),
                    verify(token, self.settings),
                    outcome=Outcome.DENIED,
                    rule="R-UNKNOWN-DOCUMENT",
                    data={"action": Action.READ.value},
                )
            )
            self.refusal_traced = True
            raise no_such_submission_set()
        try:
            actor, grant, dossier = self._allowed(token, dossier.ins, Action.READ)
        except AccessDenied:
            raise no_such_submission_set() from None  # traced with its real rule by _allowed
        views = self._shown(actor, grant, dossier, [found])
        if not views:
            self._refuse(actor, grant.refused("R-UNKNOWN-DOCUMENT"), dossier)
            raise no_such_submission_set()
        self._record_access(
            actor,
            dossier,
            self._event(
                EventType.DOCUMENTS_LISTED,
                actor,
                dossier,
                grant,
                data={"count": str(len(views[0].documents))},
            ),
        )
        return SubmissionSetFound(
            submission_set=views[0], access=access_note(grant), ins=dossier.ins
        )

    def _shown(
        self, actor: Actor, grant: Grant, dossier: Dossier, found: list[SubmissionSet]
    ) -> list[SubmissionSetView]:
        """The sets as this actor sees them: one fetch of the documents they name that the actor may see."""
        wanted = sorted({document_id for each in found for document_id in each.document_ids})
        visible = self.store.documents_seen(dossier.id, grant, actor.id, wanted)
        return [
            view for each in found if (view := submission_sets.shown(each, visible)) is not None
        ]

    @rpc
    def find_document(self, token: str, document_id: str, with_content: bool) -> DocumentFound:
        """A document by its id alone (FHIR reads): the same checks and trace as through its dossier, and
        the patient's INS with it. An unknown id and a hidden document answer alike (404)."""
        actor = verify(token, self.settings)
        located = self.store.dossier_of_document(str(document_id))
        dossier = self.store.dossier_by_id(located) if located else None
        if dossier is None:
            # No dossier to attribute it to: the refusal goes to the trail's system chain.
            self.store.record_access(
                Event.of(
                    EventType.ACCESS_DENIED,
                    self.name,
                    self.clock.now(),
                    actor,
                    outcome=Outcome.DENIED,
                    rule="R-UNKNOWN-DOCUMENT",
                    **requested(document_id, Action.READ),
                )
            )
            self.refusal_traced = True
            raise no_such_document()
        try:
            if with_content:
                read = self._read(token, dossier.ins, document_id)
                return DocumentFound(
                    document=read.document,
                    content=read.content,
                    access=read.access,
                    ins=dossier.ins,
                )
            actor, grant, dossier = self._allowed(token, dossier.ins, Action.READ)
        except AccessDenied:
            # The caller named no dossier: a refusal for the dossier (no consent, another patient's, closed)
            # would confirm that the id exists. Traced with its real rule all the same.
            raise no_such_document() from None
        document = self._visible(actor, grant, dossier, document_id)
        self._record_access(
            actor,
            dossier,
            self._event(
                EventType.DOCUMENTS_LISTED,
                actor,
                dossier,
                grant,
                document_id=document.id,
                data={"count": "1"},
            ),
        )
        return DocumentFound(
            document=documents.as_answered(document), access=access_note(grant), ins=dossier.ins
        )

    @rpc
    def read_document(self, token: str, ins: str, document_id: str) -> DocumentRead:
        return self._read(token, ins, document_id)

    def _read(self, token: str, ins: str, document_id: str) -> DocumentRead:
        actor, grant, dossier = self._allowed(token, ins, Action.READ)
        document = self._visible(actor, grant, dossier, document_id)
        event = self._event(
            EventType.DOCUMENT_READ,
            actor,
            dossier,
            grant,
            document_id=document.id,
            data={"category": document.category},
        )
        self._record_access(
            actor, dossier, event
        )  # if the trace cannot be stored, nothing is released
        content = self._content(dossier, document)
        return DocumentRead(
            document=documents.as_answered(document),
            content=base64.b64encode(content).decode(),
            access=access_note(grant),
        )

    def _content(self, dossier: Dossier, document: Document) -> bytes:
        sealed = self.store.content(document.id)
        try:
            if sealed is None:
                raise sealing.ContentCorrupted(document.id)
            key = crypto.data_key(self.settings.master_keys(), dossier)
            content = sealing.open_sealed(key, sealed, document.id)
        except sealing.ContentCorrupted:
            raise ServiceUnavailable(
                "the document's content is missing or corrupted; it was not served"
            ) from None
        if rules.sha256(content) != document.sha256:
            raise ServiceUnavailable(
                "the document's content does not match its hash; it was not served"
            )
        return content
