"""audit: a trace of every event of every service, and the patient's access history.

The hash chain, signed checkpoints and FHIR AuditEvent export are issue 7.
"""

from __future__ import annotations

from typing import Any

from nameko.rpc import ServiceRpc

from services.audit.store import AuditStore
from services.common.entrypoints import rpc
from services.common.errors import InvalidInput
from services.common.events import Event
from services.common.grants import Action, Grant
from services.common.health import HealthMixin
from services.common.identifiers import require_ins
from services.common.store import StoreProvider
from services.common.subscriptions import subscribe
from services.common.tokens import verify

MAX_PAGE = 200


def trace_of(event: Event) -> dict[str, Any]:
    trace = event.model_dump(mode="json", exclude={"event_id"})
    trace["occurred_at"] = event.occurred_at  # a date, so that history sorts and filters by time
    return {"_id": event.event_id, **trace}


class AuditService(HealthMixin):
    name = "audit"

    store: AuditStore = StoreProvider(AuditStore)
    consent = ServiceRpc("consent")

    def _append(self, payload: dict[str, Any]) -> None:
        # A malformed event is a bug in a producer: failing here requeues it rather than losing it.
        self.store.append(trace_of(Event.model_validate(payload)))

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

    @rpc
    def history(self, token: str, ins: str, limit: int = 50) -> dict[str, Any]:
        """Who did what in this dossier, newest first (the holder only, for now)."""
        verify(token)
        if not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
            raise InvalidInput.for_field("limit", f"must be a whole number from 1 to {MAX_PAGE}")
        grant = Grant.model_validate(self.consent.grant(token, require_ins(ins), Action.READ_HISTORY.value))
        grant.require()
        assert grant.patient_id is not None
        traces = self.store.history(grant.patient_id, limit)
        return {"traces": [_public(trace) for trace in traces]}


def _public(trace: dict[str, Any]) -> dict[str, Any]:
    return {
        "event_id": trace["_id"],
        "type": trace["type"],
        "occurred_at": trace["occurred_at"].isoformat(),
        "actor": trace.get("actor"),
        "document_id": trace.get("document_id"),
        "outcome": trace["outcome"],
        "rule": trace.get("rule"),
    }
