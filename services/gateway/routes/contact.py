"""The patient changes their email or mobile: a code sent to the new address confirms it."""

from fastapi import APIRouter

from services.gateway import responses
from services.gateway.auth import Token
from services.gateway.routes import InsPath
from services.gateway.rpc import Services
from services.identity.schemas import ContactChange, ContactCode

router = APIRouter(tags=["login"])


@router.post("/patients/{ins}/contact", status_code=202)
def request_contact_change(
    token: Token, ins: InsPath, body: ContactChange, services: Services
) -> responses.ContactCodeSent:
    """The patient asks to change their email: a code is sent to the new address."""
    sent = services.identity.request_contact_change(token, ins, body.model_dump(mode="json"))
    return responses.ContactCodeSent(**sent)


@router.post("/patients/{ins}/contact/verify")
def confirm_contact_change(
    token: Token, ins: InsPath, body: ContactCode, services: Services
) -> responses.ContactChanged:
    """The code from the new address confirms it; the old address is told of the change."""
    changed = services.identity.confirm_contact_change(token, ins, body.model_dump(mode="json"))
    return responses.ContactChanged(**changed)
