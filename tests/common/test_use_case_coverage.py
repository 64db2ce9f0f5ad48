"""The fast tier covers every use case: each entrypoint of each service (its RPC methods and event handlers) is
called by that service's use-case tests (tests/<service>/test_use_cases.py, on the in-memory store), or, for the
health every service shares, by tests/common/test_health.py. A new entrypoint without one fails here."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from nameko.extensions import ENTRYPOINT_EXTENSIONS_ATTR

from services.audit.service import AuditService
from services.consent.service import ConsentService
from services.dossier.service import DossierService
from services.identity.service import IdentityService
from services.notify.service import NotifyService

TESTS = Path(__file__).parents[1]
SERVICES: list[type[Any]] = [
    AuditService,
    ConsentService,
    DossierService,
    IdentityService,
    NotifyService,
]


def entrypoints(service: type[Any]) -> set[str]:
    return {
        name
        for name in dir(service)
        if getattr(getattr(service, name, None), ENTRYPOINT_EXTENSIONS_ATTR, None)
    }


def called(*paths: Path) -> set[str]:
    """The names called as `something.name(...)` in these test modules, or named as strings (a handler a
    parametrized test takes by its name)."""
    names = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                names.add(node.func.attr)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                names.add(node.value)
    return names


@pytest.mark.parametrize("service", SERVICES, ids=lambda service: service.name)
def test_every_entrypoint_has_a_fast_use_case_test(service: type[Any]) -> None:
    found = entrypoints(service)
    assert "health" in found and len(found) > 5  # what is counted is really the entrypoints
    untested = found - called(
        TESTS / service.name / "test_use_cases.py", TESTS / "common" / "test_health.py"
    )
    assert not untested, f"{service.name}: no use-case test calls {sorted(untested)}"
