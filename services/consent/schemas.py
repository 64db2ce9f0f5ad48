"""consent's own contracts: what its RPC methods give back (what they take, and the grant, are shared with their
callers in services/common/schemas.py and services/common/grants.py).

Instants are sent as the service has always written them, `isoformat()` of an aware datetime ("+00:00"), so
they are text here: a `datetime` field would go out as pydantic writes it ("Z")."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel


class ConsentRecorded(BaseModel):
    professional_id: str
    recorded_at: str
    created: bool  # false: it was already active
    until: date | None


class CareTeamJoined(BaseModel):
    professional_id: str
    until: str


class MedecinTraitantChange(BaseModel):
    """What declaring a médecin traitant did: proposed (by the médecin) or declared (by the feed)."""

    status: str


class MedecinTraitantProposed(MedecinTraitantChange):
    status: Literal["proposed"] = "proposed"
    professional_id: str
    proposed_at: str


class MedecinTraitantDeclared(MedecinTraitantChange):
    status: Literal["declared"] = "declared"
    medecin_traitant: str
    previous: str | None
    since: str | None  # none: declared again, with no period on record


class ConsentWithdrawn(BaseModel):
    professional_id: str
    status: Literal["withdrawn"] = "withdrawn"


class CareTeamObjection(BaseModel):
    professional_id: str
    status: Literal["objected"] = "objected"


class MedecinTraitantEnded(BaseModel):
    status: Literal["ended"] = "ended"


class Blocks(BaseModel):
    blocked: list[str]  # every professional the patient blocks, after the change


class OccupationalConsent(BaseModel):
    professional_id: str
    status: Literal["authorised"] = "authorised"


class ProfessionalSince(BaseModel):
    professional_id: str
    since: str


class AccessSettings(BaseModel):
    medecin_traitant: str | None
    blocked: list[str]
    medecin_traitant_proposals: list[ProfessionalSince]
    oppose_emergency: bool
    oppose_regulator: bool
    consents: list[ProfessionalSince]
    care_team: list[ProfessionalSince]
    occupational_consents: list[ProfessionalSince]
