"""The notify service's RPC methods, typed: what its callers declare their proxy as. Generated from
services/notify/service.py by `python -m services.common.clients` (tests/common/test_clients.py
fails when it drifts)."""

from __future__ import annotations

from typing import Any, Protocol


class NotifyClient(Protocol):
    def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        """Deliveries given up on, with why (operators: `python -m services.notify.dead_letters`). Callers:
        operators."""

    def deliver_identity_message(self, payload: dict[str, Any]) -> None:
        """Codes and security notices go out at once; codes are never stored here (nor in any event). Callers:
        identity."""

    def health(self) -> dict[str, str]:
        """Callers: everyone."""

    def preferences(self, token: str, ins: str) -> dict[str, Any]:
        """Callers: clients."""

    def replay(self, delivery_id: str) -> dict[str, str]:
        """Callers: operators."""

    def retry_due(self) -> dict[str, int]:
        """Try again the deliveries whose time came, and those whose holder died (lease expired), once what went out
        without the store hearing of it is recorded. Callers: operators."""

    def send_digests(self) -> dict[str, int]:
        """One message per patient gathering the routine events of each past day. Callers: operators."""

    def set_preferences(self, token: str, ins: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Callers: clients."""
