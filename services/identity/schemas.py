"""identity's own contracts: what its RPC methods give back that no other service shares (what they take,
and the tokens they give, are shared with their callers in services/common/schemas.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class ContactCodeSent(BaseModel):
    """A code went to the new address; the address replaces the old one once the code comes back."""

    status: Literal["code_sent"] = "code_sent"
    expires_in: int
