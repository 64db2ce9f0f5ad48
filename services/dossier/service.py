"""dossier: the record itself. Every call asks consent for a grant and enforces it here."""

from __future__ import annotations

import base64
import json
import re
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, time
from functools import partial
from typing import Any, TypeVar

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
    ServiceUnavailable,
)
from services.common.events import Event, EventType, Outcome
from services.common.grants import Action, Grant, visibility_data
from services.common.health import HealthMixin
from services.common.identifiers import require_ins
from services.common.ids import new_id
from services.common.principals import CLIENTS, OPERATORS
from services.common.rpc_client import ServiceRpc
from services.common.schemas import (
    DocumentMetadata,
    DocumentSearch,
    DocumentSubmission,
    DossierOpening,
    PersonalSpace,
    PersonalSpaceUpdate,
    ReimbursementBatch,
    ReimbursementReport,
    ReimbursementSearch,
    VisibilityChange,
)
from services.common.settings import Settings
from services.common.store import StoreProvider
from services.common.tokens import verify
from services.common.validation import parse
from services.consent.client import ConsentClient
from services.dossier import crypto, feed, formats, lifecycle, queries, rules, summary
from services.dossier.store import DossierStore

DOCUMENT_ID = re.compile(r"doc_[0-9a-f]{32}")
MAX_DOCUMENTS_TOGETHER = 20  # one submission set; each document is at most max_document_bytes
T = TypeVar("T")


def requested(document_id: Any, action: Action) -> dict[str, Any]:
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


# What a refused attempt is traced under when the refusal is not an access rule's.
REFUSAL_RULES = {Conflict: "R-STATE-CONFLICT", InvalidInput: "R-INVALID-REQUEST",
                 PayloadTooLarge: "R-INVALID-REQUEST", NotFound: "R-UNKNOWN-DOCUMENT"}


def access_note(grant: Grant) -> dict[str, Any]:
    """Said with every release of content: under which rule, and whether it is an emergency access."""
    return {"rule": grant.rule, "emergency": grant.emergency,
            "expires_at": grant.expires_at.isoformat() if grant.expires_at else None}


class DossierService(HealthMixin):
    name = "dossier"

    store: DossierStore = StoreProvider(DossierStore)
    consent: ConsentClient = ServiceRpc("consent")
    clock: Clock = Clock()
    # Per worker (nameko makes a service instance per call): the attempt under way, once its dossier is
    # known, and whether its refusal was already traced.
    attempt: tuple[Actor, Grant, dict[str, Any]] | None = None
    subject: str | None = None  # the document it names, once found
    refusal_traced = False

    # Helpers: asking consent, refusing with a trace, finding the dossier.

    def _grant(self, token: str, ins: str, action: Action) -> Grant:
        return Grant.model_validate(self.consent.grant(token, ins, action.value))

    def _refuse(self, actor: Actor, grant: Grant, dossier: dict[str, Any] | None, **ids: Any) -> AccessDenied:
        """Trace the refusal, then return the error to raise."""
        fields = {"data": {"action": grant.action.value}, **ids}
        event = Event.of(
            EventType.ACCESS_DENIED, self.name, self.clock.now(), actor, outcome=Outcome.DENIED,
            rule=grant.rule, emergency=grant.emergency, patient_id=grant.patient_id,
            dossier_id=dossier["_id"] if dossier else None, **fields,
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
            type(error), "R-INVALID-REQUEST")
        named = {"document_id": self.subject} if self.subject else {}
        self._refuse(actor, grant.refused(rule), dossier, data={"action": grant.action.value, "refused": error.code},
                     **named)

    def _event(
        self, kind: EventType, actor: Actor, dossier: dict[str, Any], grant: Grant, **fields: Any
    ) -> Event:
        """An event about this dossier, done by this actor under this grant (rule, emergency flag)."""
        return Event.of(kind, self.name, self.clock.now(), actor, patient_id=dossier["patient_id"],
                        dossier_id=dossier["_id"], rule=grant.rule, emergency=grant.emergency, **fields)

    def _record_access(self, actor: Actor, event: Event, with_it: tuple[Event, ...] = ()) -> None:
        """Trace a release of health data (and `with_it`, the other releases of the same answer), with a
        first_access event the first time a professional sees this dossier (the patient is told of each
        professional's first access)."""
        assert event.dossier_id is not None
        first = actor.kind is ActorKind.PROFESSIONAL and not self.store.accessed_before(event.dossier_id, actor.id)
        # With the document it was to, if any: its trace is hidden from whom the document is hidden.
        also = [event.model_copy(update={"event_id": new_id("evt"), "type": EventType.FIRST_ACCESS,
                                         "data": {}})] if first else []
        self.store.record_access(event, [*with_it, *also])
        if first:
            self.store.mark_accessed(event.dossier_id, actor.id)

    def _allowed(self, token: str, ins: str, action: Action) -> tuple[Actor, Grant, dict[str, Any]]:
        actor = verify(token)
        ins = require_ins(ins)
        grant = self._grant(token, ins, action)
        dossier = self.store.dossier_by_ins(ins)
        if not grant.allowed:
            raise self._refuse(actor, grant, dossier)
        if dossier is None:
            raise NotFound("this patient has no dossier", [{"field": "ins"}])
        self.attempt = (actor, grant, dossier)
        if action is not Action.MANAGE and dossier["status"] != lifecycle.Status.OPEN:
            # Closed or being deleted: the content is inaccessible, to everyone, at once.
            raise self._refuse(actor, grant.refused("R-DOSSIER-CLOSED"), dossier)
        return actor, grant, dossier

    # Entrypoints

    @rpc
    def open(self, token: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Open the patient's dossier, recording who opened it, through which channel, and the
        patient's consent to opening."""
        actor = verify(token)
        opening = parse(DossierOpening, payload)
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
            raise Conflict("this patient already has a dossier", [{"state": existing["status"]}])
        now = self.clock.now()
        dossier_id = new_id("dos")
        channel = rules.opening_channel(actor)
        if channel == "pharmacy":
            # Paid once per patient, ever: a reopened (or re-created) dossier earns no second fee.
            self.store.charge_opening_fee({
                "_id": grant.patient_id, "dossier_id": dossier_id, "pharmacist_id": actor.id,
                "organisation": actor.organisation or "", "month": now.strftime("%Y-%m"), "opened_at": now,
            })
        dossier = {
            "_id": dossier_id,
            "ins": ins,
            "patient_id": grant.patient_id,
            "status": "open",
            "opened_at": now,
            "opened_by": actor.ref,
            "channel": channel,
            "consent_to_opening": {"given": True, "recorded_by": actor.id, "at": now},
            **crypto.new_key_fields(dossier_id),
        }
        event = Event.of(
            EventType.DOSSIER_OPENED, self.name, now, actor, patient_id=grant.patient_id,
            dossier_id=dossier_id, rule=grant.rule, emergency=grant.emergency, data={"channel": channel},
        )
        if not self.store.open_dossier(dossier, event):
            raise Conflict("this patient already has a dossier", [{"state": "open"}])
        return {"dossier_id": dossier_id, "status": "open", "channel": channel, "opened_at": now.isoformat()}

    # Lifecycle: close, reopen, deletion on request, purge.

    def _transition(self, token: str, ins: str, transition: str, event_type: EventType) -> dict[str, Any]:
        actor, grant, dossier = self._allowed(token, ins, Action.MANAGE)
        lifecycle.check_transition(transition, dossier["status"])
        now = self.clock.now()
        changes: dict[str, Any]
        unset: tuple[str, ...] = ()
        if transition == "reopen":
            changes = {"status": lifecycle.Status.OPEN.value, "lifecycle": {"reopened_at": now}}
            unset = ("purge_after_ms",)
        else:
            purge_at = lifecycle.purge_after(transition, now)
            status = lifecycle.Status.CLOSED if transition == "close" else lifecycle.Status.DELETION_REQUESTED
            changes = {"status": status.value, "purge_after_ms": lifecycle.epoch_ms(purge_at),
                       "lifecycle": {f"{transition}_at": now, "purge_at": purge_at}}
            if transition == "delete":
                unset = ("wrapped_key", "master_key")  # the content cannot be read any more, by anyone
        event = self._event(event_type, actor, dossier, grant)
        if not self.store.change_dossier(dossier["_id"], dossier["status"], changes, event, unset):
            raise Conflict("the dossier changed meanwhile; nothing was done, retry", [{"state": "changed"}])
        result = {"dossier_id": dossier["_id"], "status": changes["status"]}
        if "purge_after_ms" in changes:
            result["purge_at"] = changes["lifecycle"]["purge_at"].isoformat()
        return result

    @rpc
    def status(self, token: str, ins: str) -> dict[str, Any]:
        """Where the dossier stands in its lifecycle, for the patient's side (those who may manage it)."""
        _, _, dossier = self._allowed(token, ins, Action.MANAGE)
        moments = {"opened_at": dossier["opened_at"], **(dossier.get("lifecycle") or {})}
        names = {"close_at": "closed_at", "delete_at": "deletion_requested_at"}  # as stored -> as told
        return {"dossier_id": dossier["_id"], "status": dossier["status"],
                **{names.get(name, name): at.isoformat() if isinstance(at, datetime) else str(at)
                   for name, at in moments.items()}}

    @rpc
    def close(self, token: str, ins: str) -> dict[str, Any]:
        """Close the dossier: content inaccessible at once, archived 10 years, restored by reopening."""
        return self._transition(token, ins, "close", EventType.DOSSIER_CLOSED)

    @rpc
    def reopen(self, token: str, ins: str) -> dict[str, Any]:
        return self._transition(token, ins, "reopen", EventType.DOSSIER_REOPENED)

    @rpc
    def request_deletion(self, token: str, ins: str) -> dict[str, Any]:
        """Delete on request: the key is destroyed now (content unreadable), the rest purged within 3 months."""
        return self._transition(token, ins, "delete", EventType.DOSSIER_DELETION_REQUESTED)

    @rpc
    def release_document(self, token: str, ins: str, document_id: str) -> dict[str, Any]:
        """The author makes a document visible to the patient (after the announcement consultation)."""
        actor, grant, dossier = self._allowed(token, ins, Action.READ)
        document = self._visible(actor, grant, dossier, document_id)
        rules.check_change(actor, document, "release")
        if rules.INVISIBLE_TO_PATIENT not in document.get("visibility", []):
            raise Conflict("the document is already visible to the patient", [{"field": "document_id"}])
        visibility = [code for code in document["visibility"] if code != rules.INVISIBLE_TO_PATIENT]
        return self._change(actor, grant, dossier, document, EventType.DOCUMENT_RELEASED, {"visibility": visibility})

    @every(3600)
    @rpc(callers=(OPERATORS,))
    def release_due(self) -> dict[str, int]:
        """Hourly: documents invisible to the patient for a month become visible; authors of those still
        invisible after two weeks are reminded (once)."""
        now_ms = lifecycle.epoch_ms(self.clock.now())
        released = reminded = 0
        for document in self.store.invisible_due("release_ms", now_ms):
            visibility = [code for code in document["visibility"] if code != rules.INVISIBLE_TO_PATIENT]
            event = Event.of(EventType.DOCUMENT_RELEASED, self.name, self.clock.now(), None,
                             dossier_id=document["dossier_id"], document_id=document["_id"],
                             patient_id=document.get("patient_id"),
                             data={"automatic": "true", "visibility": visibility_data(visibility)})
            if self.store.revise_document(document, {"visibility": visibility, "release_ms": None}, event,
                                          now_ms):
                released += 1
        for document in self.store.invisible_due("remind_ms", now_ms):
            event = Event.of(EventType.INVISIBILITY_REMINDER_DUE, self.name, self.clock.now(), None,
                             dossier_id=document["dossier_id"], document_id=document["_id"],
                             patient_id=document.get("patient_id"), data={"author_id": document["author"]["id"]})
            if self.store.change_document(document["_id"], document["status"], {"remind_ms": None}, event):
                reminded += 1
        return {"released": released, "reminded": reminded}

    @every(3600)
    @rpc(callers=(OPERATORS,))
    def purge_due(self) -> dict[str, int]:
        """Purge dossiers whose archive has expired or whose deletion is due (hourly; operators may run it)."""
        now = self.clock.now()
        purged = 0
        for dossier in self.store.due_for_purge(lifecycle.epoch_ms(now)):
            event = Event.of(EventType.DOSSIER_PURGED, self.name, now, None, patient_id=dossier["patient_id"],
                             dossier_id=dossier["_id"])
            self.store.purge(dossier, event)
            purged += 1
        return {"purged": purged}

    # What audit checks before it erases a trail, or when it verifies one (a lying peer must not erase it).

    @rpc(callers=("audit",))
    def purge_record(self, dossier_id: str) -> dict[str, Any]:
        """Whether this service purged `dossier_id`, and whose it was."""
        if not isinstance(dossier_id, str) or not dossier_id:
            raise InvalidInput.for_field("dossier_id", "required")
        record = self.store.purge_record(dossier_id)
        if record is None:
            return {"purged": False, "patient_id": None}
        return {"purged": True, "patient_id": record.get("patient_id"), "purged_at": record["purged_at"].isoformat()}

    @rpc(callers=("audit",))
    def dossiers_of(self, patient_ids: list[str]) -> dict[str, dict[str, str]]:
        """The dossier each of these patients has now (status, when it opened); at most 500 at a time."""
        if not isinstance(patient_ids, list) or len(patient_ids) > 500 or \
                not all(isinstance(item, str) for item in patient_ids):
            raise InvalidInput.for_field("patient_ids", "a list of at most 500 patient ids")
        return {dossier["patient_id"]: {"status": dossier["status"], "opened_at": dossier["opened_at"].isoformat()}
                for dossier in self.store.dossiers_of(patient_ids)}

    # The personal space

    def _open_personal_space(self, dossier: dict[str, Any], record: dict[str, Any] | None) -> dict[str, Any]:
        if record is None:
            return {"content": PersonalSpace().model_dump(mode="json"), "version": 0}
        key = crypto.data_key(dossier)
        context = f"personal-space:{dossier['_id']}:{record['version']}"
        content = json.loads(sealing.open_sealed(key, record["sealed"], context))
        return {"content": content, "version": record["version"], "updated_at": record["updated"]["at"].isoformat(),
                "updated_by": record["updated"]["by"]}

    @rpc
    def personal_space(self, token: str, ins: str) -> dict[str, Any]:
        """Blood group, allergies, treatments, contacts, wishes: for the patient's side, and for
        professionals whose matrix row reads the patient's own documents (class 90)."""
        actor, grant, dossier = self._allowed(token, ins, Action.READ)
        if not grant.covers(rules.PATIENT_CATEGORY):
            raise self._refuse(actor, grant.for_category(rules.PATIENT_CATEGORY), dossier)
        record = self.store.personal_space(dossier["_id"])
        event = self._event(EventType.PERSONAL_SPACE_READ, actor, dossier, grant)
        self._record_access(actor, event)  # traced before anything leaves
        return self._open_personal_space(dossier, record)

    @rpc
    def update_personal_space(self, token: str, ins: str, payload: dict[str, Any]) -> dict[str, Any]:
        """The patient (or their representative) replaces the personal space; every version is kept."""
        update = parse(PersonalSpaceUpdate, payload)
        actor, grant, dossier = self._allowed(token, ins, Action.MANAGE)
        now = self.clock.now()
        version = update.version + 1
        key = crypto.data_key(dossier)
        content = json.dumps(update.content.model_dump(mode="json"), ensure_ascii=False).encode()
        sealed = sealing.seal(key, content, f"personal-space:{dossier['_id']}:{version}")
        record = {"version": version, "sealed": sealed, "updated": {"at": now, "by": actor.ref}}
        event = self._event(EventType.PERSONAL_SPACE_UPDATED, actor, dossier, grant, data={"version": str(version)})
        if not self.store.save_personal_space(dossier["_id"], update.version, record, event):
            current = self.store.personal_space(dossier["_id"])
            raise Conflict("the personal space was changed meanwhile; reload it and apply your change again",
                           [{"field": "version", "current": str(current["version"] if current else 0)}])
        return self._open_personal_space(dossier, record)

    @rpc
    def personal_space_history(self, token: str, ins: str) -> list[dict[str, Any]]:
        """Every version of the personal space, newest first (the patient's side only)."""
        _, _, dossier = self._allowed(token, ins, Action.MANAGE)
        history = self.store.personal_space_history(dossier["_id"])
        return [self._open_personal_space(dossier, record) for record in history]

    # The reimbursement feed

    @rpc(callers=(CLIENTS, OPERATORS))
    def add_reimbursements(self, token: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Reimbursement lines for many patients at once, idempotent by line id. Lines older than 24 months,
        malformed, or for a patient without an open dossier are refused one by one, with the reason."""
        actor = verify(token)
        grant = Grant.model_validate(self.consent.grant_for_any_patient(token, Action.WRITE.value)).require()
        batch = parse(ReimbursementBatch, payload)
        now = self.clock.now()
        lines, rejected, repeats = feed.sort_lines(batch.lines, now.date())
        dossiers = self.store.dossiers_by_ins(sorted({line.ins for line in lines}))
        records = []
        for line in lines:
            dossier = dossiers.get(line.ins)
            if dossier is None or dossier["status"] != lifecycle.Status.OPEN:
                rejected.append({"line_id": line.line_id, "reason": "ins: the patient has no open dossier"})
                continue
            care = datetime.combine(line.care_date, time.min, tzinfo=UTC)
            records.append({
                "_id": line.line_id, "dossier_id": dossier["_id"], **line.model_dump(mode="json", exclude={"ins"}),
                # an item's ATC class only when the feed gave one: lines without stay as they always were
                "items": [item.model_dump(mode="json", exclude_none=True) for item in line.items],
                "care_ms": lifecycle.epoch_ms(care), "received_at": now,
            })
        inserted = self.store.add_reimbursements(records)
        per_dossier = Counter(record["dossier_id"] for record in inserted)
        by_id = {dossier["_id"]: dossier for dossier in dossiers.values()}
        events = [
            self._event(EventType.REIMBURSEMENTS_ADDED, actor, by_id[dossier_id], grant, data={"lines": str(count)})
            for dossier_id, count in per_dossier.items()
        ]
        self.store.record_feed(new_id("feed"), events)
        duplicates = len(records) - len(inserted) + repeats
        return ReimbursementReport(accepted=len(inserted), duplicates=duplicates, rejected=rejected).model_dump()

    @rpc
    def reimbursements(self, token: str, ins: str, query: dict[str, Any] | None = None) -> dict[str, Any]:
        """The patient's reimbursement lines ("données de remboursement", class 60), newest care first."""
        page_request = parse(ReimbursementSearch, query or {})
        actor, grant, dossier = self._allowed(token, ins, Action.READ)
        if not grant.covers(rules.FEED_CATEGORY):
            raise self._refuse(actor, grant.for_category(rules.FEED_CATEGORY), dossier)
        selection = {"dossier_id": dossier["_id"]}
        total, page = self.store.reimbursements_page(
            selection, queries.after(selection, page_request.cursor, "care_ms"), page_request.limit + 1)
        more = len(page) > page_request.limit
        page = page[: page_request.limit]
        event = self._event(EventType.DOCUMENTS_LISTED, actor, dossier, grant,
                            data={"count": str(len(page)), "category": rules.FEED_CATEGORY})
        self._record_access(actor, event)  # traced before anything leaves
        keep = ("line_id", "care_date", "items", "prescriber_rpps", "billed_cents", "reimbursed_cents")
        return {
            "lines": [{"line_id": line["_id"], **{k: line.get(k) for k in keep if k != "line_id"}} for line in page],
            "total": total,
            "next_cursor": queries.encode_cursor(page[-1], "care_ms") if more else None,
        }

    # The care summary

    @rpc
    def care_summary(self, token: str, ins: str) -> dict[str, Any]:
        """One screen for a professional: medicines and acts of the last 24 months (class 60), the latest document
        of each category, the allergies of the personal space (class 90), under the document list's grant: a part
        the caller's matrix row does not read is withheld, naming the rule."""
        actor, grant, dossier = self._allowed(token, ins, Action.READ)
        today = self.clock.now().date()
        withheld: list[summary.Withheld] = []
        items: list[summary.FeedItem] | None = None
        if grant.covers(rules.FEED_CATEGORY):
            since = datetime.combine(summary.window_start(today), time.min, tzinfo=UTC)
            items = [item for line in self.store.reimbursements_since(dossier["_id"], lifecycle.epoch_ms(since))
                     for item in summary.FeedItem.from_record(line)]
        else:
            withheld.append(summary.Withheld(summary.Part.REIMBURSEMENTS,
                                             grant.for_category(rules.FEED_CATEGORY).rule))
        allergies: tuple[summary.AllergyEntry, ...] | None = None
        if grant.covers(rules.PATIENT_CATEGORY):
            space = self._open_personal_space(dossier, self.store.personal_space(dossier["_id"]))
            allergies = summary.allergies_of(space["content"])
        else:
            withheld.append(summary.Withheld(summary.Part.ALLERGIES, grant.for_category(rules.PATIENT_CATEGORY).rule))
        # The document list's own query: the grant's categories and visibility, current documents only.
        selection = queries.document_query(dossier["_id"], grant, actor.id)
        documents = [summary.DocumentEntry.from_record(record) for record in self.store.documents_matching(selection)]
        care = summary.summarise(today, feed=items, documents=documents, allergies=allergies, withheld=withheld)
        released = [part for part, shown in (("documents", True), ("reimbursements", items is not None),
                                             ("personal_space", allergies is not None)) if shown]
        event = self._event(EventType.DOCUMENTS_LISTED, actor, dossier, grant,
                            data={"view": "summary", "count": str(len(care.latest_documents)),
                                  "released": ",".join(released)})
        space_read = (self._event(EventType.PERSONAL_SPACE_READ, actor, dossier, grant, data={"view": "summary"}),)
        self._record_access(actor, event, space_read if allergies is not None else ())  # before anything leaves
        return {**summary.to_json(care), "access": access_note(grant)}

    @rpc(callers=(OPERATORS,))
    def rewrap_keys(self, limit: int = 500) -> dict[str, int]:
        """Operator action during a master-key rotation: re-wrap data keys with the current master key
        (DMP_MASTER_KEY), the old one being in DMP_PREVIOUS_MASTER_KEYS. Content is not re-encrypted."""
        current = crypto.fingerprint(crypto.master_key_from_env())
        done = 0
        for dossier in self.store.keys_to_rewrap(current, max(1, min(int(limit), 5000))):
            changes = crypto.rewrapped(dossier)
            if changes is None:
                continue
            event = Event.of(EventType.DOSSIER_KEY_REWRAPPED, self.name, self.clock.now(), None,
                             patient_id=dossier["patient_id"], dossier_id=dossier["_id"])
            if self.store.change_dossier(dossier["_id"], dossier["status"], changes, event):
                done += 1
        return {"rewrapped": done, "remaining": self.store.count_keys_to_rewrap(current)}

    @rpc(callers=(OPERATORS,))
    def pharmacy_fees(self, month: str) -> list[dict[str, str]]:
        """The opening fees owed to pharmacies for a month (YYYY-MM): one line per dossier opened."""
        if not lifecycle.MONTH.match(str(month)):
            raise InvalidInput.for_field("month", "must be YYYY-MM")
        return [
            {"organisation": fee["organisation"], "pharmacist_id": fee["pharmacist_id"],
             "dossier_id": fee["dossier_id"], "opened_at": fee["opened_at"].isoformat()}
            for fee in self.store.opening_fees(month)
        ]

    # Documents

    def _store_document(
        self, actor: Actor, grant: Grant, dossier: dict[str, Any], submission: DocumentSubmission,
        replaces: dict[str, Any] | None = None, idempotency: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        return self._stored(actor, grant, dossier, self._checked(actor, grant, dossier, submission, replaces),
                            submission, replaces, idempotency)

    def _checked(
        self, actor: Actor, grant: Grant, dossier: dict[str, Any], submission: DocumentSubmission,
        replaces: dict[str, Any] | None = None,
    ) -> tuple[dict[str, Any], bytes, str]:
        """Every check of a deposit, nothing stored: (metadata, content, digest)."""
        if not grant.covers(submission.category):
            raise self._refuse(actor, grant.for_category(submission.category), dossier)
        rules.check_format_for(submission.category, submission.format)
        rules.check_visibility_at_deposit(actor, submission.visibility)
        carried = rules.carried_over(replaces.get("visibility", []), submission.visibility) if replaces else []
        settings = Settings.from_env()
        content = rules.decode_content(submission.content, settings.max_document_bytes)
        problem = formats.mismatch(submission.format, content)
        if problem:
            raise InvalidInput.for_field("content", problem)
        digest = rules.sha256(content)
        metadata = submission.model_dump(mode="json", exclude={"content"})
        metadata["visibility"] = [*submission.visibility, *carried]
        if self.store.same_document(dossier["_id"], digest, metadata):
            raise Conflict("an identical document is already in this dossier", [{"field": "content"}])
        if submission.unique_id and self.store.document_by_unique_id(dossier["_id"], submission.unique_id):
            raise Conflict("a document with this unique_id is already in this dossier (a new version has its own)",
                           [{"field": "unique_id"}])
        return metadata, content, digest

    def _stored(
        self, actor: Actor, grant: Grant, dossier: dict[str, Any], checked: tuple[dict[str, Any], bytes, str],
        submission: DocumentSubmission, replaces: dict[str, Any] | None = None,
        idempotency: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        metadata, content, digest = checked
        carried = metadata["visibility"][len(submission.visibility):]
        now = self.clock.now()
        document_id = new_id("doc")
        key = crypto.data_key(dossier)
        self.store.put_content(document_id, sealing.seal(key, content, document_id))
        record = {
            "_id": document_id, "dossier_id": dossier["_id"], **metadata, "created_at": now,
            "created_ms": lifecycle.epoch_ms(now), "revision": 1, "size": len(content), "sha256": digest,
            "status": "current",
            "replaces": replaces["_id"] if replaces else None, "replaced_by": None, "author": actor.ref,
            "patient_id": dossier["patient_id"], **(idempotency or {}),
        }
        if rules.INVISIBLE_TO_PATIENT in carried and replaces is not None:
            # A new version does not push the announcement back: the patient sees it when the old one was due.
            record["release_ms"] = replaces.get("release_ms")
            record["remind_ms"] = replaces.get("remind_ms")
        elif rules.INVISIBLE_TO_PATIENT in submission.visibility:
            record["release_ms"] = lifecycle.epoch_ms(now + rules.INVISIBLE_FOR)
            record["remind_ms"] = lifecycle.epoch_ms(now + rules.REMIND_AFTER)
        event = self._event(
            EventType.DOCUMENT_ADDED, actor, dossier, grant, document_id=document_id,
            data={"category": submission.category, **({"replaces": replaces["_id"]} if replaces else {}),
                  # The patient is told of it only once it is released to them.
                  **({"invisible_to_patient": "true"} if rules.INVISIBLE_TO_PATIENT in metadata["visibility"] else {}),
                  # Audit hides the document's traces from whom it hides the document.
                  "visibility": visibility_data(record.get("visibility") or [])},
        )
        self.store.add_document(record, event)
        return record

    @rpc
    def add_document(
        self, token: str, ins: str, payload: dict[str, Any], idempotency_key: str | None = None
    ) -> dict[str, Any]:
        """Deposit a document. With an idempotency key, a retried request (same key, same body) answers
        the document of the first one instead of creating a second."""
        submission = parse(DocumentSubmission, payload)
        actor, grant, dossier = self._allowed(token, ins, Action.WRITE)
        if idempotency_key is None:
            return DocumentMetadata.from_record(self._store_document(actor, grant, dossier, submission)).model_dump(
                mode="json")
        key = rules.check_idempotency_key(idempotency_key)
        fingerprint = rules.sha256(json.dumps([ins, payload], sort_keys=True).encode())
        stale_ms = Settings.from_env().idempotency_claim_seconds * 1000
        earlier = self.store.claim_idempotency(actor.id, key, fingerprint, lifecycle.epoch_ms(self.clock.now()),
                                               stale_ms)
        reference = f"{actor.id}|{key}"
        stored = self.store.document_by_idempotency(dossier["_id"], reference)
        if stored is not None:
            # Stored by an earlier request that died before it could say so (or before the claim was
            # completed): answer that document, never store a second.
            if stored.get("idempotency_fingerprint") != fingerprint:
                raise Conflict("this Idempotency-Key was used for a different request",
                               [{"field": "Idempotency-Key"}])
            self.store.complete_idempotency(actor.id, key, stored["_id"])
            return {**DocumentMetadata.from_record(stored).model_dump(mode="json"), "replayed": True}
        if earlier is not None:
            if earlier["fingerprint"] != fingerprint:
                raise Conflict("this Idempotency-Key was used for a different request",
                               [{"field": "Idempotency-Key"}])
            if earlier.get("document_id") is None:
                raise Conflict("a request with this Idempotency-Key is in progress; retry shortly",
                               [{"field": "Idempotency-Key"}])
            document = self.store.document(dossier["_id"], earlier["document_id"])
            assert document is not None
            return {**DocumentMetadata.from_record(document).model_dump(mode="json"), "replayed": True}
        try:
            record = self._store_document(actor, grant, dossier, submission, idempotency={
                "idempotency": reference, "idempotency_fingerprint": fingerprint})
        except Exception:
            self.store.release_idempotency(actor.id, key)  # let a retry try again
            raise
        self.store.complete_idempotency(actor.id, key, record["_id"])
        return DocumentMetadata.from_record(record).model_dump(mode="json")

    @rpc
    def add_documents(
        self, token: str, ins: str, payloads: list[dict[str, Any]], replaces: list[str | None] | None = None
    ) -> list[dict[str, Any]]:
        """Deposit several documents of one patient together (an ITI-65 submission set): every one is checked
        (metadata, rights, content, duplicates, also among themselves, and the document it replaces, if any)
        before any is stored, so one bad document stores nothing. A refusal names the document by its position
        (`entry`). `replaces[i]`: the id of the document the i-th one is a new version of (same rules as
        replace_document)."""
        if not isinstance(payloads, list) or not 1 <= len(payloads) <= MAX_DOCUMENTS_TOGETHER:
            raise InvalidInput.for_field("documents", f"must be 1 to {MAX_DOCUMENTS_TOGETHER} documents")
        olds_ids = replaces if isinstance(replaces, list) else [None] * len(payloads)
        if len(olds_ids) != len(payloads):
            raise InvalidInput.for_field("replaces", "names one document (or none) per document")
        submissions = [self._at(index, partial(parse, DocumentSubmission, payload))
                       for index, payload in enumerate(payloads)]
        actor, grant, dossier = self._allowed(token, ins, Action.WRITE)
        olds = [self._at(index, partial(self._changeable, actor, grant, dossier, old_id, "replace"))
                if old_id is not None else None for index, old_id in enumerate(olds_ids)]
        checked = [self._at(index, partial(self._checked, actor, grant, dossier, submission, old))
                   for index, (submission, old) in enumerate(zip(submissions, olds, strict=True))]
        seen: dict[tuple[str, str], int] = {}
        unique_ids: dict[str, int] = {}
        replaced: dict[str, int] = {}
        for index, (metadata, _, digest) in enumerate(checked):
            same = seen.setdefault((digest, json.dumps(metadata, sort_keys=True)), index)
            if same != index:
                raise InvalidInput(f"document {index + 1}: the same document as document {same + 1}",
                                   [{"field": "content", "entry": str(index)}])
            first = unique_ids.setdefault(metadata["unique_id"], index) if metadata.get("unique_id") else index
            if first != index:
                raise InvalidInput(f"document {index + 1}: the same unique_id as document {first + 1}",
                                   [{"field": "unique_id", "entry": str(index)}])
            old = olds[index]
            first = replaced.setdefault(old["_id"], index) if old else index
            if first != index:
                raise InvalidInput(f"document {index + 1}: replaces the same document as document {first + 1}",
                                   [{"field": "replaces", "entry": str(index)}])
        stored = []
        for checks, submission, old in zip(checked, submissions, olds, strict=True):
            new = self._stored(actor, grant, dossier, checks, submission, old)
            if old is not None:
                self._change(actor, grant, dossier, old, EventType.DOCUMENT_REPLACED,
                             {"status": "replaced", "replaced_by": new["_id"]})
            stored.append(DocumentMetadata.from_record(new).model_dump(mode="json"))
        return stored

    @staticmethod
    def _at(index: int, step: Callable[[], T]) -> T:
        """The step's result, or its error told of which document (by position; detail values travel as text)."""
        try:
            return step()
        except DmpError as error:
            raise type(error)(f"document {index + 1}: {error.message}",
                              [{**detail, "entry": str(index)} for detail in error.details] or [{"entry": str(index)}]
                              ) from None

    def _document(self, actor: Actor, grant: Grant, dossier: dict[str, Any], document_id: Any) -> dict[str, Any]:
        """The document by its id in this dossier, else the refusal traced (a run of unknown ids is
        someone guessing) and NotFound."""
        document = self.store.document(dossier["_id"], str(document_id))
        if document is None or document["status"] == "deleted":
            self._refuse(actor, grant.refused("R-UNKNOWN-DOCUMENT"), dossier, **requested(document_id, grant.action))
            raise no_such_document()
        self.subject = document["_id"]
        return document

    def _changeable(
        self, actor: Actor, grant: Grant, dossier: dict[str, Any], document_id: Any, change: str
    ) -> dict[str, Any]:
        """The document this actor may change: one they cannot see answers like one that does not exist,
        one they see but did not write is refused by the author's rule (both traced)."""
        document = self._document(actor, grant, dossier, document_id)
        seen = grant.sees(actor.id, document["category"], document.get("visibility", []), document["author"]["id"])
        if not seen.allowed:
            self._refuse(actor, seen, dossier, document_id=document["_id"])
            raise no_such_document()
        rules.check_change(actor, document, change)
        return document

    def _change(
        self, actor: Actor, grant: Grant, dossier: dict[str, Any], document: dict[str, Any], event_type: EventType,
        changes: dict[str, Any],
    ) -> dict[str, Any]:
        event = self._event(event_type, actor, dossier, grant, document_id=document["_id"],
                            data={"visibility": visibility_data(changes["visibility"])} if "visibility" in changes
                            else {})
        applied = self.store.revise_document(document, changes, event, lifecycle.epoch_ms(self.clock.now()))
        if applied is None:
            raise Conflict("the document changed meanwhile; nothing was done, retry", [{"field": "document_id"}])
        return DocumentMetadata.from_record({**document, **applied}).model_dump(mode="json")

    @rpc
    def replace_document(self, token: str, ins: str, document_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        """A new version by the same author; the old one stays in history as replaced."""
        submission = parse(DocumentSubmission, payload)
        actor, grant, dossier = self._allowed(token, ins, Action.WRITE)
        old = self._changeable(actor, grant, dossier, document_id, "replace")
        new = self._store_document(actor, grant, dossier, submission, replaces=old)
        self._change(actor, grant, dossier, old, EventType.DOCUMENT_REPLACED,
                     {"status": "replaced", "replaced_by": new["_id"]})
        return DocumentMetadata.from_record(new).model_dump(mode="json")

    @rpc
    def archive_document(self, token: str, ins: str, document_id: str, archived: bool = True) -> dict[str, Any]:
        """Archived documents leave the default search (status=archived finds them); reversible."""
        actor, grant, dossier = self._allowed(token, ins, Action.READ)
        document = self._visible(actor, grant, dossier, document_id)
        rules.check_change(actor, document, "archive")
        if document["status"] != ("current" if archived else "archived"):
            raise Conflict(f"the document is {document['status']}", [{"state": document["status"]}])
        kind = EventType.DOCUMENT_ARCHIVED if archived else EventType.DOCUMENT_UNARCHIVED
        return self._change(actor, grant, dossier, document, kind, {"status": "archived" if archived else "current"})

    @rpc
    def delete_document(self, token: str, ins: str, document_id: str) -> dict[str, Any]:
        """Deleted by its author: the content is destroyed; a tombstone stays for the history."""
        actor, grant, dossier = self._allowed(token, ins, Action.WRITE)
        document = self._changeable(actor, grant, dossier, document_id, "delete")
        deleted = self._change(actor, grant, dossier, document, EventType.DOCUMENT_DELETED, {"status": "deleted"})
        self.store.delete_content(document["_id"])
        return deleted

    @rpc
    def set_visibility(self, token: str, ins: str, document_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        """The patient masks a document from professionals (all but its author) or unmasks it."""
        change = parse(VisibilityChange, payload)
        actor, grant, dossier = self._allowed(token, ins, Action.MANAGE)
        document = self._visible(actor, grant, dossier, document_id)
        visibility = rules.masked(document.get("visibility", []), change.masked)
        kind = EventType.DOCUMENT_MASKED if change.masked else EventType.DOCUMENT_UNMASKED
        return self._change(actor, grant, dossier, document, kind, {"visibility": visibility})

    def _visible(self, actor: Actor, grant: Grant, dossier: dict[str, Any], document_id: Any) -> dict[str, Any]:
        """The document if this actor may see it under this grant. A hidden one (masked, invisible, outside
        the actor's matrix row) answers exactly like one that does not exist; the refusal is traced with
        its real rule."""
        document = self._document(actor, grant, dossier, document_id)
        decision = grant.for_document(actor.id, document["category"], document.get("visibility", []),
                                      document["author"]["id"])
        if not decision.allowed:
            self._refuse(actor, decision, dossier, document_id=document["_id"])
            raise no_such_document()
        return document

    @rpc(callers=(CLIENTS, OPERATORS))
    def search(self, token: str, ins: str | None, query: dict[str, Any] | None = None) -> dict[str, Any]:
        """The documents this actor may see, newest first, a page at a time, with an honest total. Without
        an INS, the query's patient_id names the patient (FHIR's `patient` reference)."""
        search = parse(DocumentSearch, query or {})
        actor, grant, dossier = self._allowed(token, self._ins_of(token, ins, search.patient_id), Action.READ)
        selection = queries.document_query(
            dossier["_id"], grant, actor.id, categories=search.category, type_codes=search.type_code,
            author_id=search.author_id, care_from=search.care_from, care_to=search.care_to,
            created_from_ms=lifecycle.epoch_ms(search.created_from) if search.created_from else None,
            created_before_ms=lifecycle.epoch_ms(search.created_before) if search.created_before else None,
            document_ids=search.document_id, identifiers=search.identifier, patient_id=search.patient_id,
            statuses=list(search.status),
            security_labels=None if search.security_label is None else [
                group.split(",") if group else [] for group in search.security_label],
            updated_from_ms=lifecycle.epoch_ms(search.updated_from) if search.updated_from else None,
            updated_before_ms=lifecycle.epoch_ms(search.updated_before) if search.updated_before else None,
            replaces=search.replaces,
        )
        # limit 0 asks for the total alone: one record is still fetched to know whether there are more.
        total, page = self.store.search_documents(selection, queries.after(selection, search.cursor), search.limit + 1)
        more = len(page) > search.limit and search.limit > 0
        page = page[: search.limit]
        event = self._event(EventType.DOCUMENTS_LISTED, actor, dossier, grant, data={"count": str(len(page))})
        self._record_access(actor, event)  # traced before any metadata leaves
        return {
            "documents": [DocumentMetadata.from_record(d).model_dump(mode="json") for d in page],
            "total": total,
            "next_cursor": queries.encode_cursor(page[-1]) if more else None,
            "access": access_note(grant),
            "ins": dossier["ins"],  # for FHIR's subject, when the search named the patient by id
        }

    def _ins_of(self, token: str, ins: str | None, patient_id: str | None) -> str:
        """The INS a search names, or else that of the patient it names by id. An unknown patient id answers
        like a patient without a dossier, and is traced like an unknown document id."""
        if ins is not None:
            return ins
        if patient_id is None:
            raise InvalidInput.for_field("ins", "is required (or patient_id)")
        dossier = self.store.dossier_by_patient_id(patient_id)
        if dossier is None:
            self.store.record_access(Event.of(
                EventType.ACCESS_DENIED, self.name, self.clock.now(), verify(token), outcome=Outcome.DENIED,
                rule="R-UNKNOWN-PATIENT", data={"action": Action.READ.value}))
            self.refusal_traced = True
            raise NotFound("this patient has no dossier", [{"field": "patient_id"}])
        return str(dossier["ins"])

    @rpc
    def find_document(self, token: str, document_id: str, with_content: bool) -> dict[str, Any]:
        """A document by its id alone (FHIR reads): the same checks and trace as through its dossier, and
        the patient's INS with it. An unknown id and a hidden document answer alike (404)."""
        actor = verify(token)
        located = self.store.document_anywhere(str(document_id))
        dossier = self.store.dossier_by_id(located["dossier_id"]) if located else None
        if dossier is None:
            # No dossier to attribute it to: the refusal goes to the trail's system chain.
            self.store.record_access(Event.of(
                EventType.ACCESS_DENIED, self.name, self.clock.now(), actor, outcome=Outcome.DENIED,
                rule="R-UNKNOWN-DOCUMENT", **requested(document_id, Action.READ)))
            self.refusal_traced = True
            raise no_such_document()
        try:
            if with_content:
                return {**self.read_document(token, dossier["ins"], document_id), "ins": dossier["ins"]}
            actor, grant, dossier = self._allowed(token, dossier["ins"], Action.READ)
        except AccessDenied:
            # The caller named no dossier: a refusal for the dossier (no consent, another patient's, closed)
            # would confirm that the id exists. Traced with its real rule all the same.
            raise no_such_document() from None
        document = self._visible(actor, grant, dossier, document_id)
        self._record_access(actor, self._event(EventType.DOCUMENTS_LISTED, actor, dossier, grant,
                                               document_id=document["_id"], data={"count": "1"}))
        return {"document": DocumentMetadata.from_record(document).model_dump(mode="json"), "ins": dossier["ins"],
                "access": access_note(grant)}

    @rpc
    def read_document(self, token: str, ins: str, document_id: str) -> dict[str, Any]:
        actor, grant, dossier = self._allowed(token, ins, Action.READ)
        document = self._visible(actor, grant, dossier, document_id)
        event = self._event(EventType.DOCUMENT_READ, actor, dossier, grant, document_id=document["_id"],
                            data={"category": document["category"]})
        self._record_access(actor, event)  # if the trace cannot be stored, nothing is released
        content = self._content(dossier, document)
        return {
            "document": DocumentMetadata.from_record(document).model_dump(mode="json"),
            "content": base64.b64encode(content).decode(),
            "access": access_note(grant),
        }

    def _content(self, dossier: dict[str, Any], document: dict[str, Any]) -> bytes:
        sealed = self.store.content(document["_id"])
        try:
            if sealed is None:
                raise sealing.ContentCorrupted(document["_id"])
            key = crypto.data_key(dossier)
            content = sealing.open_sealed(key, sealed, document["_id"])
        except sealing.ContentCorrupted:
            raise ServiceUnavailable("the document's content is missing or corrupted; it was not served") from None
        if rules.sha256(content) != document["sha256"]:
            raise ServiceUnavailable("the document's content does not match its hash; it was not served")
        return content
