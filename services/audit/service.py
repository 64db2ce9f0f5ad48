"""audit: a trail nobody can rewrite unnoticed, and the access history of a dossier.

Every event of every service is appended to a hash chain per patient (acknowledged only once stored,
idempotent by event id). `verify` recomputes the chains and checks the signed checkpoints of their
heads; the history answers the patient, the médecin traitant, and a document's author.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from pydantic import TypeAdapter

from services.audit import checkpoints, labels, rules
from services.audit.records import trace_of
from services.audit.schemas import (
    BadSignature,
    ChainBreak,
    CheckpointReceipt,
    ErasedWhileOpen,
    FhirBundle,
    HistoryAnswer,
    HistoryQuery,
    HistoryView,
    RewrittenHead,
    TraceView,
    VerifyReport,
)
from services.audit.store import AuditRecords, AuditStore
from services.common.actors import Actor
from services.common.clock import Clock
from services.common.entrypoints import every, rpc
from services.common.errors import AccessDenied
from services.common.events import Event, EventType, Outcome
from services.common.grants import Action, Grant
from services.common.health import HealthMixin
from services.common.identifiers import require_ins
from services.common.principals import OPERATORS
from services.common.rpc_client import ServiceRpc
from services.common.settings import Secret, Settings
from services.common.settings_provider import SettingsProvider
from services.common.store import StoreProvider
from services.common.subscriptions import subscribe
from services.common.tokens import verify
from services.consent.client import ConsentClient
from services.dossier.client import DossierClient

log = logging.getLogger(__name__)
MISMATCH: TypeAdapter[BadSignature | RewrittenHead] = TypeAdapter(BadSignature | RewrittenHead)


class AuditService(HealthMixin):
    name = "audit"

    settings: Settings = SettingsProvider(
        needs=(Secret.AUDIT_SIGNING_KEY, Secret.AUDIT_PUBLIC_KEYS, Secret.TOKEN_PUBLIC_KEYS)
    )
    store: AuditRecords = StoreProvider(AuditStore)
    consent: ConsentClient = ServiceRpc("consent")
    dossier: DossierClient = ServiceRpc("dossier")
    clock: Clock = Clock()

    def _append(self, payload: object) -> None:  # validated by received_event
        event = self.store.received_event(payload)
        if event is None:
            return
        if event.type is EventType.DOSSIER_PURGED and event.patient_id:
            # Retention follows the dossier, once dossier confirms the purge (a lying peer erases nothing).
            if self._purge_confirmed(event):
                self.store.purge_chain(
                    event.patient_id, self.clock.now(), event.event_id, event.occurred_at
                )
            return
        trace = trace_of(event)
        if (
            event.document_id
        ):  # known before its trace is: the history hides it from whom it must at once
            trace = replace(trace, document_author=self.store.remember_document(event))
        self.store.remember_dossier(event)
        self.store.append(trace, self.clock.now())

    def _purge_confirmed(self, event: Event) -> bool:
        """Whether the dossier service purged this event's dossier, the patient's; if not, the refusal is traced
        in the system chain and the trail is kept."""
        record = (
            self.dossier.purge_record(event.dossier_id or "")
            if event.dossier_id
            else {"purged": False}
        )
        if rules.purge_confirmed(event, record):
            return True
        log.error(
            "kept the trail of a dossier_purged that dossier does not confirm (event %s)",
            event.event_id,
        )
        refusal = Event.of(
            EventType.ACCESS_DENIED,
            self.name,
            self.clock.now(),
            None,
            outcome=Outcome.DENIED,
            rule="R-PURGE-UNCONFIRMED",
            data={"event_id": event.event_id, "dossier_id": event.dossier_id or ""},
        )
        self.store.append(trace_of(refusal), self.clock.now())
        return False

    # Every event type of every source (see common/subscriptions.py): no change when one is added.
    @subscribe("audit", "identity")
    def on_identity_event(self, payload: object) -> None:
        self._append(payload)

    @subscribe("audit", "consent")
    def on_consent_event(self, payload: object) -> None:
        self._append(payload)

    @subscribe("audit", "dossier")
    def on_dossier_event(self, payload: object) -> None:
        self._append(payload)

    @subscribe("audit", "gateway")
    def on_gateway_event(self, payload: object) -> None:
        self._append(payload)

    @subscribe("audit", "notify")
    def on_notify_event(self, payload: object) -> None:
        self._append(payload)

    @subscribe("audit", "audit")
    def on_own_event(self, payload: object) -> None:
        self._append(payload)

    # Verification

    @rpc(callers=(OPERATORS,))
    def verify(self) -> VerifyReport:
        """Recompute every chain and check every signed checkpoint: the first broken or missing link of
        each damaged chain, and each checkpoint that no longer matches. Operators: `python -m
        services.audit.verify`."""
        purged = self.store.purged_chains()
        breaks: list[ErasedWhileOpen | ChainBreak] = [*self._purged_yet_open(purged)]
        ends = {}
        for name in self.store.chain_names():
            problem, last_seq, last_hash = self.store.first_break(name)
            ends[name] = (last_seq, last_hash)
            if problem:
                breaks.append(
                    ChainBreak(chain=problem.chain, seq=problem.seq, problem=problem.problem)
                )
        mismatches = [
            MISMATCH.validate_python(mismatch)
            for checkpoint in self.store.checkpoints()
            for mismatch in checkpoints.mismatches(
                checkpoint,
                checkpoints.signature_valid(
                    self.settings.public_keys(Secret.AUDIT_PUBLIC_KEYS), checkpoint
                ),
                purged,
                self.store.hash_at,
            )
        ]
        return VerifyReport(
            chains=len(ends),
            traces=sum(seq for seq, _ in ends.values()),
            breaks=breaks,
            checkpoint_mismatches=mismatches,
            intact=not breaks and not mismatches,
        )

    def _purged_yet_open(self, purged: dict[str, datetime]) -> list[ErasedWhileOpen]:
        """Chains erased by a purge decided while the patient's dossier, opened before it, still exists."""
        problems: list[ErasedWhileOpen] = []
        names = sorted(purged)
        for start in range(0, len(names), 500):
            problems.extend(
                ErasedWhileOpen.model_validate(problem)
                for problem in rules.erased_while_open(
                    purged, self.dossier.dossiers_of(names[start : start + 500])
                )
            )
        return problems

    @every(3600)
    @rpc(callers=(OPERATORS,))
    def checkpoint(self) -> CheckpointReceipt:
        """Sign the current chain heads (hourly, and on demand)."""
        signed = checkpoints.sign(
            self.settings.signing_key(Secret.AUDIT_SIGNING_KEY),
            self.store.heads(),
            self.clock.now(),
        )
        self.store.add_checkpoint(signed)
        return CheckpointReceipt.model_validate(checkpoints.receipt(signed))

    # History

    def _refuse(self, actor: Actor, grant: Grant) -> AccessDenied:
        """Trace the refusal here, in the trail itself, before the answer goes back."""
        refusal = Event.of(
            EventType.ACCESS_DENIED,
            self.name,
            self.clock.now(),
            actor,
            outcome=Outcome.DENIED,
            rule=grant.rule,
            patient_id=grant.patient_id,
            data={"action": Action.READ_HISTORY.value},
        )
        self.store.append(trace_of(refusal), self.clock.now())
        return AccessDenied.by_rule(grant.rule, grant.reason)

    @rpc
    def history(self, token: str, ins: str, query: HistoryQuery | None = None) -> HistoryAnswer:
        """Who did what in this dossier, newest first, with plain labels. The patient's side sees the
        whole history; the médecin traitant too; a document's author sees the traces of their documents.
        Nobody sees a trace of a document hidden from them (the grant's visibility rule, as for the
        documents themselves); professionals see nothing of a closed dossier."""
        actor = verify(token, self.settings)
        request = query or HistoryQuery()
        ins = require_ins(ins)
        grant = Grant.model_validate(self.consent.grant(token, ins, Action.READ_HISTORY.value))
        audience = rules.audience(actor, grant)
        if audience is None:
            raise self._refuse(actor, grant)
        if rules.closed_to(
            actor,
            grant,
            lambda: self.store.dossier_open(grant.patient_id or ""),
            lambda: self.store.authored_in(grant.patient_id or "", actor.id),
        ):
            raise self._refuse(actor, grant.refused("R-DOSSIER-CLOSED"))
        hidden = self.store.hidden_documents(grant, actor.id)
        page = self.store.history(
            rules.selection(grant, audience, actor.id, request, hidden),
            request.cursor,
            request.limit,
        )
        if request.format == "fhir":
            return HistoryAnswer(
                FhirBundle.model_validate(labels.fhir_bundle(page.traces, page.total))
            )
        return HistoryAnswer(
            HistoryView(
                traces=[
                    TraceView.model_validate(labels.public(trace, request.language))
                    for trace in page.traces
                ],
                total=page.total,
                next_cursor=page.next_cursor,
                audience=audience,
            )
        )
