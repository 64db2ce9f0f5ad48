"""How the patient is told of what happens in their dossier."""

from fastapi import APIRouter

from services.common import schemas
from services.gateway.auth import Token
from services.gateway.routes import InsPath
from services.gateway.rpc import Services

router = APIRouter(tags=["notifications"])


@router.get("/patients/{ins}/notification-preferences")
def notification_preferences(
    token: Token, ins: InsPath, services: Services
) -> schemas.NotificationPreferences:
    return schemas.NotificationPreferences(**services.notify.preferences(token, ins))


@router.put("/patients/{ins}/notification-preferences")
def set_notification_preferences(
    token: Token, ins: InsPath, body: schemas.NotificationPreferences, services: Services
) -> schemas.NotificationPreferences:
    """Email, SMS or both; routine events at once or in a daily digest (emergency access and a
    professional's first access are always sent at once); language."""
    return schemas.NotificationPreferences(
        **services.notify.set_preferences(token, ins, body.model_dump(mode="json"))
    )
