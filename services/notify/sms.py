"""SMS through an HTTP SMS gateway with Kannel's sendsms interface (GET /cgi-bin/sendsms)."""

from __future__ import annotations

from collections.abc import Callable
from http.client import HTTPConnection, HTTPSConnection
from urllib.parse import urlencode, urlsplit

from services.common.settings import Settings
from services.notify.exceptions import PermanentFailure


def send(
    settings: Settings, to: str, text: str, committing: Callable[[], None] | None = None
) -> str:
    """Send one SMS; the gateway's answer. `committing` is called once the connection is open, just before
    the request goes out (nothing in between waits): if this returns, the gateway took the message; if
    it raises, the gateway refused it (or the connection failed before its answer)."""
    gateway = urlsplit(settings.sms_gateway_url)
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
    opening = HTTPSConnection if gateway.scheme == "https" else HTTPConnection
    connection = opening(gateway.hostname or "", gateway.port, timeout=15)
    try:
        connection.connect()
        if committing is not None:
            committing()
        connection.request("GET", f"{gateway.path}?{query}")
        response = connection.getresponse()
        answer = response.read().decode("utf-8", "replace").strip()
    finally:
        connection.close()
    if 400 <= response.status < 500:  # bad number, refused credentials: retrying will not help
        raise PermanentFailure(f"SMS gateway answered {response.status}")
    if not 200 <= response.status < 300:
        raise ConnectionError(f"SMS gateway answered {response.status}")  # retried later
    return answer
