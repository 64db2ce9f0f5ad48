"""consent's contracts: what its RPC methods take (a consent, the care team, the médecin traitant, blocks,
emergency oppositions, a break-glass access, the facts of a document to decide on) and give back. The grant
they decide is shared with every caller, in services/common/grants.py.

Instants are sent as the service has always written them, `isoformat()` of an aware datetime ("+00:00"), so
they are text here: a `datetime` field would go out as pydantic writes it ("Z")."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from services.common import identifiers
from services.common.schemas import Category, Strict

# What the methods take

ProfessionalId = Annotated[
    str, AfterValidator(identifiers.check_actor_id), Field(examples=["rpps:10000000009"])
]


class DocumentFacts(Strict):
    """What a decision about one document needs to know about it."""

    category: Category
    visibility: list[str] = Field(default_factory=list)
    author_id: Annotated[str, Field(max_length=64)]


class ProfessionalRef(Strict):
    professional_id: ProfessionalId


class Authorisation(Strict):
    until: date | None = Field(
        None, description="the consent ends at this date (none: until withdrawn)"
    )


class CareTeamMembership(Strict):
    patient_informed: Literal[True] = Field(
        description="the patient was informed and did not object"
    )
    days: Annotated[int, Field(ge=1, le=3650)] = Field(
        365, description="how long the membership lasts"
    )


class MedecinTraitantDeclaration(Strict):
    """A médecin proposes themselves (nothing granted until the patient confirms); the Assurance Maladie
    feed (a system token) declares the médecin the patient declared to their fund (`professional_id`)."""

    patient_agreed: Literal[True] | None = Field(
        None,
        description="a médecin's proposal: the patient chose them (they still confirm it themselves)",
    )
    professional_id: ProfessionalId | None = Field(
        None, description="the feed's declaration: the declared médecin (rpps:<RPPS>)"
    )


class EmergencyOppositions(Strict):
    oppose_emergency: bool = Field(description="refuse break-glass access by professionals")
    oppose_regulator: bool = Field(description="refuse read access by the SAMU regulator")


class BreakGlass(Strict):
    reason: Annotated[
        str, Field(min_length=10, max_length=500, description="why, in a few words (traced)")
    ]


# What they answer


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
