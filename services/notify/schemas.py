"""notify's contracts: what its RPC methods take and give back. The patient's notification preferences; identity's
messages (a code, a security notice), which reach notify sealed, by RPC only; the deliveries given up on."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from services.common.schemas import Strict


class NotificationPreferences(Strict):
    channels: Literal["email", "sms", "both"] = "email"
    routine: Literal["immediate", "daily_digest"] = Field(
        "immediate",
        description="new documents and other routine events; emergency access and a new "
        "professional's first access are always sent at once",
    )
    language: Literal["fr", "en"] | None = Field(
        None, description="none: the language of the patient's account"
    )


IDENTITY_MESSAGE = "notify.deliver_identity_message"  # where a sealed IdentityMessage may be opened


class SealedIdentityMessage(Strict):
    """What crosses the bus: an IdentityMessage sealed with DMP_IDENTITY_MESSAGE_KEY, which only identity and
    notify hold (services/common/sealing.py), so that no code nor address travels in clear."""

    sealed: Annotated[str, Field(min_length=1, max_length=4096)]


class IdentityMessage(Strict):
    """identity -> notify: a code or a security notice to send now. Travels by RPC only, sealed, never in
    an event (the audit trail keeps events)."""

    channel: Literal["email", "sms"] = "email"
    to: Annotated[str, Field(min_length=3, max_length=254)]
    kind: Literal["login_code", "contact_code", "contact_changed"]
    code: Annotated[str, Field(pattern=r"^[0-9]{6}$")] | None = None
    language: Literal["fr", "en"] = "fr"
    valid_minutes: int = 0


class DeadLetterView(BaseModel):
    """A delivery given up on, for an operator to read and replay."""

    delivery_id: str
    channel: str
    whom: str
    attempts: int
    reason: str
