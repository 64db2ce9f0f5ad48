"""The audit service's RPC methods, typed: what its callers declare their proxy as. Generated from
services/audit/service.py by `python -m services.common.clients` (tests/common/test_clients.py
fails when it drifts)."""

from __future__ import annotations

from typing import Any, Protocol


class AuditClient(Protocol):
    def checkpoint(self) -> dict[str, Any]:
        """Sign the current chain heads (hourly, and on demand). Callers: operators."""

    def health(self) -> dict[str, str]:
        """Callers: everyone."""

    def history(self, token: str, ins: str, query: dict[str, Any] | None = None) -> dict[str, Any]:
        """Who did what in this dossier, newest first, with plain labels. The patient's side sees the whole history;
        the médecin traitant too; a document's author sees the traces of their documents. Nobody sees a trace of a
        document hidden from them (the grant's visibility rule, as for the documents themselves); professionals
        see nothing of a closed dossier. Callers: clients."""

    def verify(self) -> dict[str, Any]:
        """Recompute every chain and check every signed checkpoint: the first broken or missing link of each damaged
        chain, and each checkpoint that no longer matches. Operators: `python -m services.audit.verify`. Callers:
        operators."""
