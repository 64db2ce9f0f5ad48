"""notify's own contracts: what its RPC methods give back (what they take, the patient's preferences and
identity's sealed messages, is shared with their callers in services/common/schemas.py)."""

from __future__ import annotations

from pydantic import BaseModel


class DeadLetterView(BaseModel):
    """A delivery given up on, for an operator to read and replay."""

    delivery_id: str
    channel: str
    whom: str
    attempts: int
    reason: str
