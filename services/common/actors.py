"""Who is acting: the verified content of an access token."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class ActorKind(StrEnum):
    PATIENT = "patient"
    PROFESSIONAL = "professional"


class Actor(BaseModel):
    """An authenticated actor. Built only by `tokens.verify`, never from a request payload."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ActorKind
    id: str  # patient id (pat_...) or "rpps:<RPPS>"
    ins: str | None = None  # patients only
    rpps: str | None = None  # professionals only
    profession: str | None = None  # TRE_G15 code, professionals only
    organisation: str | None = None  # FINESS, professionals only

    @property
    def ref(self) -> dict[str, str | None]:
        """What events and traces carry about the actor: ids and codes, never names."""
        return {"kind": self.kind.value, "id": self.id, "profession": self.profession,
                "organisation": self.organisation}
