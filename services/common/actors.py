"""Who is acting: the verified content of an access token."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class ActorKind(StrEnum):
    """The only kinds of token this system issues or accepts: insurers, employers and the like have
    none, so their tokens are refused everywhere."""

    PATIENT = "patient"
    PROFESSIONAL = "professional"
    COUNTER_AGENT = (
        "counter_agent"  # Assurance Maladie staff: may open a dossier, never reads content
    )
    SYSTEM = "system"  # a system client, e.g. the Assurance Maladie reimbursement feed


class Role(StrEnum):
    SAMU_REGULATOR = "samu_regulator"  # reads (only) in an emergency
    OCCUPATIONAL_PHYSICIAN = (
        "occupational_physician"  # médecin du travail: only with explicit consent
    )


class Actor(BaseModel):
    """An authenticated actor. Built only by `tokens.verify`, never from a request payload."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ActorKind
    id: str  # pat_..., rpps:<RPPS>, agent:<id>, system:<client id>
    ins: str | None = None  # patients only
    rpps: str | None = None  # professionals only
    profession: str | None = None  # TRE_G15 code, professionals only
    organisation: str | None = None  # FINESS of a professional, Assurance Maladie fund of an agent
    roles: tuple[
        Role, ...
    ] = ()  # e.g. the SAMU regulator (médecin régulateur), for emergency rules
    # A professional's name as identity registered it: the dossier keeps it with what they deposit (FHIR
    # author.given/family), so no read asks identity. Never in `ref`: events and traces carry no names.
    given_name: str | None = None
    family_name: str | None = None

    @property
    def ref(self) -> dict[str, str | None]:
        """What events and traces carry about the actor: ids and codes, never names."""
        return {
            "kind": self.kind.value,
            "id": self.id,
            "profession": self.profession,
            "organisation": self.organisation,
        }
