"""The patient's personal space: what they tell about themselves, versioned."""

from fastapi import APIRouter

from services.dossier.schemas import PersonalSpaceUpdate, PersonalSpaceView
from services.gateway.auth import Token
from services.gateway.routes import InsPath
from services.gateway.rpc import Services

router = APIRouter(tags=["personal space"])


@router.get("/patients/{ins}/personal-space")
def personal_space(token: Token, ins: InsPath, services: Services) -> PersonalSpaceView:
    """Blood group, allergies, pathologies, treatments, emergency contacts, trusted person, advance
    directives, organ-donation wishes. The patient's side, and professionals reading class 90."""
    return PersonalSpaceView(**services.dossier.personal_space(token, ins))


@router.put("/patients/{ins}/personal-space")
def update_personal_space(
    token: Token, ins: InsPath, update: PersonalSpaceUpdate, services: Services
) -> PersonalSpaceView:
    """Replace it (the patient or their representative), giving the version you read: 409 if it
    changed meanwhile, so that no edit is silently lost. Every version is kept."""
    result = services.dossier.update_personal_space(token, ins, update.model_dump(mode="json"))
    return PersonalSpaceView(**result)


@router.get("/patients/{ins}/personal-space/history")
def personal_space_history(
    token: Token, ins: InsPath, services: Services
) -> list[PersonalSpaceView]:
    """Every version, newest first (the patient's side only)."""
    return [PersonalSpaceView(**v) for v in services.dossier.personal_space_history(token, ins)]
