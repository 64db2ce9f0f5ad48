"""A health RPC every service answers: the broker reached it, and its store answers a ping."""

from __future__ import annotations

from typing import Any

from pymongo.errors import PyMongoError

from services.common.entrypoints import rpc


class HealthMixin:
    name: str
    store: Any

    @rpc
    def health(self) -> dict[str, str]:
        try:
            self.store.db.command("ping")
        except PyMongoError:
            return {"service": self.name, "status": "store_unavailable"}
        return {"service": self.name, "status": "ok"}
