"""SMS through an HTTP SMS gateway with Kannel's sendsms interface (GET /cgi-bin/sendsms)."""

from __future__ import annotations

import urllib.error
import urllib.request
from urllib.parse import urlencode

from services.common.settings import Settings
from services.notify.exceptions import PermanentFailure


def send(settings: Settings, to: str, text: str) -> str:
    query = urlencode(
        {
            "username": settings.sms_username,
            "password": settings.sms_password,
            "from": settings.sms_from,
            "to": to,
            "text": text,
            "charset": "UTF-8",
            "coding": "2",  # UCS-2: French accents survive
        }
    )
    try:
        with urllib.request.urlopen(f"{settings.sms_gateway_url}?{query}", timeout=15) as response:  # noqa: S310
            return str(response.read().decode("utf-8", "replace")).strip()
    except urllib.error.HTTPError as error:
        if 400 <= error.code < 500:  # bad number, refused credentials: retrying will not help
            raise PermanentFailure(f"SMS gateway answered {error.code}") from None
        raise
