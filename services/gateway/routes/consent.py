"""Who may access a patient's dossier: consents, the care team, the médecin traitant, blocks, emergencies."""

from typing import Annotated

from fastapi import APIRouter, Body, Response

from services.common.grants import Grant
from services.consent.schemas import (
    Authorisation,
    BreakGlass,
    CareTeamMembership,
    EmergencyOppositions,
    MedecinTraitantDeclaration,
    ProfessionalRef,
)
from services.gateway import responses
from services.gateway.auth import Token
from services.gateway.routes import InsPath
from services.gateway.rpc import Services

router = APIRouter(tags=["consent"])


@router.post("/patients/{ins}/consents", status_code=201)
def record_consent(
    token: Token,
    ins: InsPath,
    services: Services,
    body: Annotated[Authorisation | None, Body()] = None,
) -> responses.ConsentRecorded:
    """The calling professional records the patient's (oral) consent to their access, optionally
    until a date."""
    payload = body.model_dump(mode="json") if body else {}
    return responses.ConsentRecorded(**services.consent.record_consent(token, ins, payload))


@router.post("/patients/{ins}/consents/withdrawal")
def withdraw_consent(
    token: Token,
    ins: InsPath,
    services: Services,
    body: Annotated[ProfessionalRef | None, Body()] = None,
) -> responses.ConsentWithdrawn:
    """The patient withdraws a professional's consent (`professional_id`), or a professional their own."""
    payload = body.model_dump(mode="json") if body else {}
    return responses.ConsentWithdrawn(**services.consent.withdraw_consent(token, ins, payload))


@router.post("/patients/{ins}/care-team", status_code=201)
def join_care_team(
    token: Token, ins: InsPath, body: CareTeamMembership, services: Services
) -> responses.CareTeamJoined:
    """The calling professional joins the patient's care team, the patient having been informed."""
    return responses.CareTeamJoined(
        **services.consent.join_care_team(token, ins, body.model_dump(mode="json"))
    )


@router.post("/patients/{ins}/care-team/objection")
def object_to_care_team(
    token: Token, ins: InsPath, body: ProfessionalRef, services: Services
) -> responses.CareTeamObjection:
    """The patient objects to a care team member's access; it ends now."""
    objected = services.consent.object_to_care_team(token, ins, body.model_dump(mode="json"))
    return responses.CareTeamObjection(**objected)


@router.post(
    "/patients/{ins}/medecin-traitant",
    status_code=202,
    responses={201: {"description": "declared by the Assurance Maladie feed (a system token)"}},
)
def declare_medecin_traitant(
    token: Token,
    ins: InsPath,
    body: MedecinTraitantDeclaration,
    response: Response,
    services: Services,
) -> responses.MedecinTraitantProposed | responses.MedecinTraitantDeclared:
    """A médecin proposes themselves as médecin traitant: `202` with status `proposed`, which grants
    nothing until the patient confirms it (`.../medecin-traitant/confirm`). The Assurance Maladie feed
    declares the médecin the patient declared to their fund (`professional_id`): `201`, `declared`."""
    result = services.consent.declare_medecin_traitant(
        token, ins, body.model_dump(mode="json", exclude_none=True)
    )
    if result.get("status") == "declared":
        response.status_code = 201
        return responses.MedecinTraitantDeclared(**result)
    return responses.MedecinTraitantProposed(**result)


@router.post("/patients/{ins}/medecin-traitant/confirm")
def confirm_medecin_traitant(
    token: Token, ins: InsPath, body: ProfessionalRef, services: Services
) -> responses.MedecinTraitantDeclared:
    """The patient (or their legal representative) confirms a médecin's pending proposal: they become
    the médecin traitant now; the patient and the previous médecin traitant are told."""
    declared = services.consent.confirm_medecin_traitant(token, ins, body.model_dump(mode="json"))
    return responses.MedecinTraitantDeclared(**declared)


@router.delete("/patients/{ins}/medecin-traitant")
def end_medecin_traitant(
    token: Token, ins: InsPath, services: Services
) -> responses.MedecinTraitantEnded:
    """The patient ends the current médecin traitant (the history is kept)."""
    return responses.MedecinTraitantEnded(**services.consent.end_medecin_traitant(token, ins))


@router.post("/patients/{ins}/blocks")
def block(
    token: Token, ins: InsPath, body: ProfessionalRef, services: Services
) -> responses.Blocks:
    """The patient blocks a professional: nothing is visible to them, emergency access included.
    Blocking the médecin traitant is refused (`409 R-BLOCK-MT`): change it first."""
    return responses.Blocks(**services.consent.block(token, ins, body.model_dump(mode="json")))


@router.delete("/patients/{ins}/blocks/{professional_id}")
def unblock(
    token: Token, ins: InsPath, professional_id: str, services: Services
) -> responses.Blocks:
    return responses.Blocks(
        **services.consent.unblock(token, ins, {"professional_id": professional_id})
    )


@router.put("/patients/{ins}/emergency-oppositions")
def emergency_oppositions(
    token: Token, ins: InsPath, body: EmergencyOppositions, services: Services
) -> EmergencyOppositions:
    """The patient opposes (or allows) break-glass access and the SAMU regulator's, separately."""
    oppositions = services.consent.set_emergency_oppositions(
        token, ins, body.model_dump(mode="json")
    )
    return EmergencyOppositions(**oppositions)


@router.post("/patients/{ins}/occupational-consents", status_code=201)
def authorise_occupational(
    token: Token, ins: InsPath, body: ProfessionalRef, services: Services
) -> responses.OccupationalConsent:
    """The patient's explicit consent to an occupational doctor (without it they see nothing)."""
    authorised = services.consent.authorise_occupational_doctor(
        token, ins, body.model_dump(mode="json")
    )
    return responses.OccupationalConsent(**authorised)


@router.post("/patients/{ins}/emergency-access", status_code=201)
def break_glass(token: Token, ins: InsPath, body: BreakGlass, services: Services) -> Grant:
    """Emergency access ("bris de glace"), with a reason: read and add for one hour (the SAMU
    regulator: read only), refused if the patient opposed it or blocked the caller. The patient is
    told at once; every response under it says `"emergency": true`."""
    return Grant.model_validate(
        services.consent.break_glass(token, ins, body.model_dump(mode="json"))
    )


@router.get("/patients/{ins}/access-settings")
def access_settings(token: Token, ins: InsPath, services: Services) -> responses.AccessSettings:
    """For the patient's side: médecin traitant, blocks, oppositions, and who is authorised."""
    return responses.AccessSettings(**services.consent.settings(token, ins))
