"""Issue 17 item 12: the body limit holds on the bytes actually streamed, not only on Content-Length.

A chunked request carries no Content-Length: the gateway must count what arrives, answer 413 as soon
as the count passes the limit, and stop reading, whatever the route (or no route at all), with or
without a token. Driven over a raw socket against the real gateway (uvicorn), so that the test sees
exactly how much the server took before it answered.
"""

from __future__ import annotations

import json
import select
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from services.common.settings import Settings
from services.gateway.app import body_limit
from tests.system import Api, Running

pytestmark = pytest.mark.slow
CHUNK = 1 << 20
LIMIT = body_limit(Settings.load())  # the stack runs with the default settings


@dataclass
class Streamed:
    sent: int  # body bytes the server had taken when its answer came (or when the client finished)
    finished: bool  # the client sent the whole body
    response: bytes


def stream_chunked(
    system: Running, method: str, path: str, total: int, headers: dict[str, str]
) -> Streamed:
    """Send `total` bytes as a chunked body, 1 MiB a chunk, reading the server's answer as soon as there is one."""
    address = urlsplit(system.stack.gateway_url)
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: {address.netloc}\r\nTransfer-Encoding: chunked\r\n"
        f"Content-Type: application/json\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        + "\r\n"
    )
    frame = f"{CHUNK:x}\r\n".encode() + b"[" * CHUNK + b"\r\n"
    with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
        sock.sendall(head.encode())
        sock.setblocking(False)
        sent, pending, response = 0, memoryview(b""), b""
        while True:
            if not pending:
                if sent >= total:
                    pending = memoryview(b"0\r\n\r\n")
                    total = -1  # the last chunk is on its way
                elif total > 0:
                    pending = memoryview(frame)
                    sent += CHUNK
            readable, writable, _ = select.select([sock], [sock] if pending else [], [], 30)
            if not readable and not writable:
                raise AssertionError(
                    f"the server neither answered nor read for 30 s ({sent} bytes sent)"
                )
            if readable:
                break
            try:
                pending = pending[sock.send(pending) :]
            except (BrokenPipeError, ConnectionResetError):
                break  # closed on us: its answer is waiting in our receive buffer
        finished = total == -1 and not pending
        sock.setblocking(True)
        try:
            while chunk := sock.recv(65536):
                response += chunk
        except ConnectionResetError:
            pass
    return Streamed(sent, finished, response)


def status_and_body(streamed: Streamed) -> tuple[int, dict[str, object]]:
    """The first answer's status and JSON body (what follows it, if anything, is not ours to read)."""
    head, _, rest = streamed.response.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = next(
        (
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    body = rest[:length]
    return status, json.loads(body) if body.startswith(b"{") else {}


def peak_memory(pid: int) -> int:
    """The process's peak resident size so far (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


@pytest.mark.parametrize(
    ("method", "path", "with_token"),
    [
        ("POST", "/api/v1/patients/{ins}/documents", True),
        ("POST", "/api/v1/patients/{ins}/documents", False),
        ("POST", "/api/v1/login/patient/code", False),
        ("POST", "/fhir", True),
        ("GET", "/api/v1/patients/{ins}/documents", True),
        ("POST", "/patient/login", False),
        ("POST", "/no/such/route", False),
    ],
)
def test_item12_a_chunked_body_over_the_limit_is_refused_413_before_it_is_all_read(
    system: Running, api: Api, method: str, path: str, with_token: bool
) -> None:
    email = f"chunked-{abs(hash((method, path, with_token)))}@patients.dmp-test.fr"
    ins, _, doctor = api.dossier_with_consenting_doctor(email)
    gateway = system.stack.processes.child("gateway").pid
    before = peak_memory(gateway)
    total = 8 * LIMIT
    streamed = stream_chunked(
        system, method, path.replace("{ins}", ins), total, doctor if with_token else {}
    )
    status, body = status_and_body(streamed)
    assert status == 413, streamed.response[:500]
    if not path.startswith("/patient/"):  # the pages answer with a page in the patient's language
        assert body.get("code") == "payload_too_large" or "too-costly" in json.dumps(body), body
    # the server answered once it had the limit, not after the client's 8x the limit
    assert not streamed.finished
    assert streamed.sent < LIMIT + 32 * CHUNK, (streamed.sent, LIMIT)
    assert peak_memory(gateway) - before < 2 * LIMIT + 32 * CHUNK
    assert system.http.get("/health").status_code == 200  # and it goes on serving


def test_item12_a_chunked_body_under_the_limit_still_goes_through(
    system: Running, api: Api
) -> None:
    ins, _, doctor = api.dossier_with_consenting_doctor("chunked-small@patients.dmp-test.fr")
    document = {
        "category": "10",
        "type_code": "11488-4",
        "title": "Consultation",
        "care_date": "2026-11-20",
        "format": "application/pdf",
        "content": "JVBERi0xLjQgY2h1bmtlZA==",
    }
    raw = json.dumps(document).encode()

    def pieces() -> Iterator[bytes]:
        for start in range(0, len(raw), 16):
            yield raw[start : start + 16]

    response = system.http.post(
        f"/api/v1/patients/{ins}/documents",
        content=pieces(),
        headers={**doctor, "Content-Type": "application/json"},
    )
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert response.status_code == 201, response.text


def test_item12_a_declared_content_length_over_the_limit_is_refused_before_reading(
    system: Running,
) -> None:
    address = urlsplit(system.stack.gateway_url)
    with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
        sock.sendall(
            f"POST /api/v1/login/patient/code HTTP/1.1\r\nHost: {address.netloc}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {LIMIT + 1}\r\n\r\n".encode()
        )
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
