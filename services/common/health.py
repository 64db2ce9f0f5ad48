"""What every service has: a health RPC (the broker reached it, and its store answers a ping), the feed of
ended sessions that its token checks consult (services/common/sessions.py), and the audience of the
internal credentials it takes (services/common/tokens.py)."""

from __future__ import annotations

from typing import Any

from nameko.extensions import DependencyProvider

from services.common.entrypoints import rpc
from services.common.principals import EVERYONE
from services.common.sessions import SessionFeedProvider
from services.common.store import Reachable
from services.common.tokens import receiving


class CredentialAudience(DependencyProvider):  # type: ignore[misc]
    """Each worker takes only the internal credentials addressed to its service (services/common/tokens.py)."""

    def worker_setup(self, worker_ctx: Any) -> None:
        receiving(self.container.service_name)


class HealthMixin:
    name: str
    store: Reachable
    session_feed = SessionFeedProvider()
    credential_audience = CredentialAudience()

    @rpc(callers=(EVERYONE,))
    def health(self) -> dict[str, str]:
        if not self.store.reachable():
            return {"service": self.name, "status": "store_unavailable"}
        return {"service": self.name, "status": "ok"}
