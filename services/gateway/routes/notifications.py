"""How the patient is told of what happens in their dossier."""

from fastapi import APIRouter

from services.gateway.auth import Token
from services.gateway.routes import InsPath
from services.gateway.rpc import Services
from services.notify.schemas import NotificationPreferences

router = APIRouter(tags=["notifications"])


@router.get("/patients/{ins}/notification-preferences")
def notification_preferences(
    token: Token, ins: InsPath, services: Services
) -> NotificationPreferences:
    return NotificationPreferences(**services.notify.preferences(token, ins))


@router.put("/patients/{ins}/notification-preferences")
def set_notification_preferences(
    token: Token, ins: InsPath, body: NotificationPreferences, services: Services
) -> NotificationPreferences:
    """Email, SMS or both; routine events at once or in a daily digest (emergency access and a
    professional's first access are always sent at once); language."""
    return NotificationPreferences(
        **services.notify.set_preferences(token, ins, body.model_dump(mode="json"))
    )
