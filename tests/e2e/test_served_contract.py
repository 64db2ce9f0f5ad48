"""The bus's contract as the running gateway serves it: the very document the code generates.

Through the whole system (tests/system.py) rather than FastAPI's TestClient, which hangs in this suite:
TestClient runs the app in an anyio portal thread, and anyio, imported by schemathesis's pytest plugin before
tests/conftest.py monkey-patches threading for eventlet, kept the real `get_ident`. Every green thread then
looks like the portal's own, so each call into the portal is refused ("cannot be called from the event loop
thread"), and so is the call that would stop it: the test waits on the portal's thread for ever."""

import json

import pytest

from services.common.asyncapi import document
from tests.system import Running

pytestmark = pytest.mark.slow


def test_the_gateway_serves_the_contract_the_code_generates(system: Running) -> None:
    served = system.http.get("/api/v1/asyncapi.json")
    assert served.status_code == 200, served.text
    assert served.headers["content-type"] == "application/json"
    assert served.json() == json.loads(json.dumps(document(), default=str))


def test_the_gateway_says_where_the_contract_is(system: Running) -> None:
    assert (
        system.http.get("/", headers={"Accept": "application/json"}).json()["asyncapi"]
        == "/api/v1/asyncapi.json"
    )
