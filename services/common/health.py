"""What every service has: a health RPC (the broker reached it, and its store answers a ping), and the
feed of ended sessions that its token checks consult (services/common/sessions.py)."""

from __future__ import annotations

from typing import Any

from pymongo.errors import PyMongoError

from services.common.entrypoints import rpc
from services.common.principals import EVERYONE
from services.common.sessions import SessionFeedProvider


class HealthMixin:
    name: str
    store: Any
    session_feed = SessionFeedProvider()

    @rpc(callers=(EVERYONE,))
    def health(self) -> dict[str, str]:
        try:
            self.store.db.command("ping")
        except PyMongoError:
            return {"service": self.name, "status": "store_unavailable"}
        return {"service": self.name, "status": "ok"}
