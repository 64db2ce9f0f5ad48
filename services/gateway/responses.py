"""What the REST routes answer where the services' contracts (services/<service>/schemas.py) have no model yet,
or one the route does not publish: each model names exactly the fields the service returns today, since a
response model drops any other.

Instants the services send as `isoformat()` text stay text (`Instant`): parsed into datetimes they would be
written back differently (`Z` for `+00:00`) and the bodies would change.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

Instant = Annotated[
    str, Field(json_schema_extra={"format": "date-time"}, examples=["2026-01-31T09:30:00+00:00"])
]


# Development enrolment (identity)


class PatientRegistered(BaseModel):
    patient_id: str


class ProfessionalRegistered(BaseModel):
    professional_id: str = Field(examples=["rpps:10000000007"])


class ActorRegistered(BaseModel):
    """A counter agent (`agent:...`) or a system client (`system:...`)."""

    actor_id: str


class RepresentativeAdded(BaseModel):
    minor_id: str
    representative_id: str


# The patient's contact details (identity)


class ContactCodeSent(BaseModel):
    status: Literal["code_sent"]
    expires_in: int = Field(description="seconds the code sent to the new address stays valid")


class ContactChanged(BaseModel):
    status: Literal["changed"]


# The dossier's lifecycle (dossier)


class DossierClosed(BaseModel):
    dossier_id: str
    status: Literal["closed"]
    purge_at: Instant = Field(description="when it is purged, unless reopened first")


class DeletionRequested(BaseModel):
    dossier_id: str
    status: Literal["deletion_requested"]
    purge_at: Instant = Field(description="when what is left is purged")


class DossierReopened(BaseModel):
    dossier_id: str
    status: Literal["open"]


# Who may access the dossier (consent)


# As the route publishes it, not as consent answers (services/consent/schemas.py ConsentRecorded): its time
# as a date-time, and no `until`.
class ConsentRecorded(BaseModel):
    professional_id: str
    recorded_at: datetime
    created: bool


class ConsentWithdrawn(BaseModel):
    professional_id: str
    status: Literal["withdrawn"]


class CareTeamJoined(BaseModel):
    professional_id: str
    until: Instant = Field(description="when the membership ends")


class CareTeamObjection(BaseModel):
    professional_id: str
    status: Literal["objected"]


class MedecinTraitantProposed(BaseModel):
    status: Literal["proposed"]
    professional_id: str
    proposed_at: Instant


class MedecinTraitantDeclared(BaseModel):
    status: Literal["declared"]
    medecin_traitant: str
    previous: str | None = Field(description="the médecin traitant until now, if any")
    since: Instant | None = Field(description="when the médecin traitant became so")


class MedecinTraitantEnded(BaseModel):
    status: Literal["ended"]


class Blocks(BaseModel):
    blocked: list[str] = Field(
        description="every professional the patient blocks, after the change"
    )


class OccupationalConsent(BaseModel):
    professional_id: str
    status: Literal["authorised"]


class ProfessionalSince(BaseModel):
    professional_id: str
    since: Instant


class AccessSettings(BaseModel):
    medecin_traitant: str | None
    blocked: list[str]
    medecin_traitant_proposals: list[ProfessionalSince] = Field(
        description="pending, waiting for the patient"
    )
    oppose_emergency: bool
    oppose_regulator: bool
    consents: list[ProfessionalSince]
    care_team: list[ProfessionalSince]
    occupational_consents: list[ProfessionalSince]


# The history as FHIR (audit)


class AuditEventEntry(BaseModel):
    resource: dict[str, Any] = Field(
        description="a FHIR R4 AuditEvent (identifiers only, as in the trail)"
    )


class AuditEventBundle(BaseModel):
    resourceType: Literal["Bundle"]  # noqa: N815 (FHIR's own name)
    type: Literal["collection"]
    total: int = Field(description="every trace the reader may see, not only this page's")
    entry: list[AuditEventEntry]


# The gateway itself


class PublicKey(BaseModel):
    """An Ed25519 key as a JSON Web Key (RFC 8037)."""

    kty: Literal["OKP"]
    crv: Literal["Ed25519"]
    x: str
    kid: str
    alg: Literal["EdDSA"]
    use: Literal["sig"]


class PublicKeys(BaseModel):
    """A JSON Web Key Set (RFC 7517)."""

    keys: list[PublicKey]


class Health(BaseModel):
    status: Literal["ok"]
