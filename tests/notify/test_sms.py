"""SMS through an HTTP gateway of the test's own (Kannel's sendsms interface), answering as it is told."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from services.common.settings import Settings
from services.notify import sms
from services.notify.exceptions import PermanentFailure


class SmsGateway(ThreadingHTTPServer):
    """Answers every sendsms request with `status`; `moments` records when each request arrived."""

    def __init__(self) -> None:
        self.status = 202
        self.moments: list[str] = []
        self.texts: list[str] = []
        super().__init__(("127.0.0.1", 0), _Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


class _Handler(BaseHTTPRequestHandler):
    server: SmsGateway

    def do_GET(self) -> None:
        self.server.moments.append("request")
        self.server.texts += parse_qs(urlsplit(self.path).query)["text"]
        body = b"0: Accepted for delivery" if self.server.status < 300 else b"refused"
        self.send_response(self.server.status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def gateway() -> Iterator[SmsGateway]:
    server = SmsGateway()
    yield server
    server.shutdown()
    server.server_close()


def send(gateway: SmsGateway) -> str:
    port = gateway.server_address[1]
    settings = Settings.load().model_copy(
        update={"sms_gateway_url": f"http://127.0.0.1:{port}/cgi-bin/sendsms"}
    )
    return sms.send(
        settings,
        "+33611223344",
        "Un document a été ajouté.",
        committing=lambda: gateway.moments.append("noted"),
    )


def test_an_sms_is_noted_before_its_request_reaches_the_gateway(gateway: SmsGateway) -> None:
    """Noted after the gateway's answer instead, a notify killed in between had it sent again."""
    assert send(gateway) == "0: Accepted for delivery"
    assert gateway.moments == ["noted", "request"]
    assert gateway.texts == ["Un document a été ajouté."]  # accents intact


@pytest.mark.parametrize(
    ("status", "for_good"), [(403, True), (503, False)], ids=["refused", "unavailable"]
)
def test_an_sms_the_gateway_refuses_raises_after_it_was_noted(
    gateway: SmsGateway, status: int, for_good: bool
) -> None:
    gateway.status = status
    with pytest.raises(Exception) as raised:
        send(gateway)
    # Refused for good: a dead letter; unavailable: an error notify retries later (an OSError).
    assert isinstance(raised.value, PermanentFailure if for_good else OSError)
    assert gateway.moments == ["noted", "request"]
