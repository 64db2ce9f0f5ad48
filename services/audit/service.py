"""audit: a trail nobody can rewrite unnoticed, and the access history of a dossier.

Every event of every service is appended to a hash chain per patient (acknowledged only once stored,
idempotent by event id). `verify` recomputes the chains and checks the signed checkpoints of their
heads; the history answers the patient, the médecin traitant, and a document's author.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from services.audit import chain, checkpoints, labels
from services.audit.store import AuditStore
from services.common.actors import Actor, ActorKind
from services.common.clock import Clock
from services.common.entrypoints import every, rpc
from services.common.errors import AccessDenied
from services.common.events import Event, EventType, Outcome
from services.common.grants import Action, Grant, hidden_from
from services.common.health import HealthMixin
from services.common.identifiers import require_ins
from services.common.paging import after, encode_cursor
from services.common.principals import OPERATORS
from services.common.rpc_client import ServiceRpc
from services.common.schemas import HistoryQuery
from services.common.store import StoreProvider
from services.common.subscriptions import subscribe
from services.common.tokens import verify
from services.common.validation import parse
from services.consent.client import ConsentClient
from services.dossier.client import DossierClient

log = logging.getLogger(__name__)


def trace_of(event: Event) -> dict[str, Any]:
    trace = event.model_dump(mode="json", exclude={"event_id"})
    trace["occurred_at"] = event.occurred_at  # a date, so that history sorts and filters by time
    trace["occurred_ms"] = int(event.occurred_at.timestamp() * 1000)
    return {"_id": event.event_id, **trace}


class AuditService(HealthMixin):
    name = "audit"

    store: AuditStore = StoreProvider(AuditStore)
    consent: ConsentClient = ServiceRpc("consent")
    dossier: DossierClient = ServiceRpc("dossier")
    clock: Clock = Clock()

    def _append(self, payload: dict[str, Any]) -> None:
        event = self.store.received_event(payload)
        if event is None:
            return
        if event.type is EventType.DOSSIER_PURGED and event.patient_id:
            # Retention follows the dossier, once dossier confirms the purge (a lying peer erases nothing).
            if self._purge_confirmed(event):
                self.store.purge_chain(event.patient_id, self.clock.now(), event.event_id, event.occurred_at)
            return
        trace = trace_of(event)
        if event.document_id:  # known before its trace is: the history hides it from whom it must at once
            trace["document_author"] = self.store.remember_document(event)
        self.store.remember_dossier(event)
        self.store.append(trace, self.clock.now())

    def _purge_confirmed(self, event: Event) -> bool:
        """Whether the dossier service purged this event's dossier, the patient's; if not, the refusal is traced
        in the system chain and the trail is kept."""
        record = self.dossier.purge_record(event.dossier_id or "") if event.dossier_id else {"purged": False}
        if record["purged"] and record.get("patient_id") == event.patient_id:
            return True
        log.error("kept the trail of a dossier_purged that dossier does not confirm (event %s)", event.event_id)
        refusal = Event.of(EventType.ACCESS_DENIED, self.name, self.clock.now(), None, outcome=Outcome.DENIED,
                           rule="R-PURGE-UNCONFIRMED", data={"event_id": event.event_id,
                                                             "dossier_id": event.dossier_id or ""})
        self.store.append(trace_of(refusal), self.clock.now())
        return False

    # Every event type of every source (see common/subscriptions.py): no change when one is added.
    @subscribe("audit", "identity")
    def on_identity_event(self, payload: dict[str, Any]) -> None:
        self._append(payload)

    @subscribe("audit", "consent")
    def on_consent_event(self, payload: dict[str, Any]) -> None:
        self._append(payload)

    @subscribe("audit", "dossier")
    def on_dossier_event(self, payload: dict[str, Any]) -> None:
        self._append(payload)

    @subscribe("audit", "gateway")
    def on_gateway_event(self, payload: dict[str, Any]) -> None:
        self._append(payload)

    @subscribe("audit", "notify")
    def on_notify_event(self, payload: dict[str, Any]) -> None:
        self._append(payload)

    @subscribe("audit", "audit")
    def on_own_event(self, payload: dict[str, Any]) -> None:
        self._append(payload)

    # Verification

    @rpc(callers=(OPERATORS,))
    def verify(self) -> dict[str, Any]:
        """Recompute every chain and check every signed checkpoint: the first broken or missing link of
        each damaged chain, and each checkpoint that no longer matches. Operators: `python -m
        services.audit.verify`."""
        purged = self.store.purged_chains()
        breaks, ends = self._purged_yet_open(purged), {}
        for name in self.store.chain_names():
            problem, last_seq, last_hash = chain.first_break(name, self.store.chain_traces(name))
            ends[name] = (last_seq, last_hash)
            if problem:
                breaks.append(problem.as_dict())
        mismatches = []
        for checkpoint in self.store.checkpoints():
            if not checkpoints.signature_valid(checkpoint):
                mismatches.append({"checkpoint": checkpoint["at_ms"], "problem": "bad signature"})
                continue
            for name, (seq, digest) in checkpoint["heads"].items():
                if name in purged:
                    continue
                trace = self.store.trace_at(name, seq)
                if trace is None or trace["hash"] != digest:
                    mismatches.append({"checkpoint": checkpoint["at_ms"], "chain": name, "seq": seq,
                                       "problem": "chain rewritten since this checkpoint"})
        return {"chains": len(ends), "traces": sum(seq for seq, _ in ends.values()), "breaks": breaks,
                "checkpoint_mismatches": mismatches, "intact": not breaks and not mismatches}

    def _purged_yet_open(self, purged: dict[str, datetime]) -> list[dict[str, Any]]:
        """Chains erased by a purge decided while the patient's dossier, opened before it, still exists."""
        problems = []
        names = sorted(purged)
        for start in range(0, len(names), 500):
            for patient_id, dossier in self.dossier.dossiers_of(names[start:start + 500]).items():
                if datetime.fromisoformat(dossier["opened_at"]) <= purged[patient_id]:
                    problems.append({"chain": patient_id, "problem": "purged while its dossier is still there",
                                     "dossier_status": dossier["status"]})
        return problems

    @every(3600)
    @rpc(callers=(OPERATORS,))
    def checkpoint(self) -> dict[str, Any]:
        """Sign the current chain heads (hourly, and on demand)."""
        at_ms = int(self.clock.now().timestamp() * 1000)
        signed = checkpoints.sign(self.store.heads(), at_ms)
        self.store.add_checkpoint(signed)
        return {"at_ms": at_ms, "chains": len(signed["heads"])}

    # History

    def _refuse(self, actor: Actor, grant: Grant) -> AccessDenied:
        """Trace the refusal here, in the trail itself, before the answer goes back."""
        refusal = Event.of(EventType.ACCESS_DENIED, self.name, self.clock.now(), actor, outcome=Outcome.DENIED,
                           rule=grant.rule, patient_id=grant.patient_id, data={"action": Action.READ_HISTORY.value})
        self.store.append(trace_of(refusal), self.clock.now())
        return AccessDenied.by_rule(grant.rule, grant.reason)

    def _closed_to(self, actor: Actor, grant: Grant) -> bool:
        """Closed or being deleted: nothing is readable by professionals, history included (the patient's
        side keeps it). One who could read it otherwise is refused, like any closed-dossier read; anyone
        else gets what they get of any dossier they wrote nothing in: no trace."""
        if actor.kind is ActorKind.PATIENT or not grant.patient_id or self.store.dossier_open(grant.patient_id):
            return False
        return grant.allowed or self.store.authored_in(grant.patient_id, actor.id)

    @rpc
    def history(self, token: str, ins: str, query: dict[str, Any] | None = None) -> dict[str, Any]:
        """Who did what in this dossier, newest first, with plain labels. The patient's side sees the
        whole history; the médecin traitant too; a document's author sees the traces of their documents.
        Nobody sees a trace of a document hidden from them (the grant's visibility rule, as for the
        documents themselves); professionals see nothing of a closed dossier."""
        actor = verify(token)
        request = parse(HistoryQuery, query or {})
        ins = require_ins(ins)
        grant = Grant.model_validate(self.consent.grant(token, ins, Action.READ_HISTORY.value))
        indexed: dict[str, Any] = {"patient_id": grant.patient_id}
        if not grant.allowed:
            if actor.kind is not ActorKind.PROFESSIONAL or grant.rule != "R-HISTORY-HOLDER":
                raise self._refuse(actor, grant)
            # Neither the patient's side nor the médecin traitant: a document's author sees its traces.
            indexed["document_author"] = actor.id
        if self._closed_to(actor, grant):
            raise self._refuse(actor, grant.refused("R-DOSSIER-CLOSED"))
        selection: dict[str, Any] = {**indexed, **labels.filters(request)}
        hidden = self.store.hidden_documents(grant.patient_id, hidden_from(grant, actor.id)) \
            if grant.patient_id else []
        if hidden:  # every trace of a document this reader may not see, whatever its type
            selection["document_id"] = {"$nin": hidden}
        total, traces = self.store.history(indexed, selection, after(selection, request.cursor, "occurred_ms"),
                                           request.limit + 1)
        more = len(traces) > request.limit
        traces = traces[: request.limit]
        next_cursor = encode_cursor(traces[-1], "occurred_ms") if more else None
        if request.format == "fhir":
            return labels.fhir_bundle(traces, total)
        return {"traces": [labels.public(trace, request.language) for trace in traces], "total": total,
                "next_cursor": next_cursor,
                "audience": "document_author" if "document_author" in indexed else "dossier"}
