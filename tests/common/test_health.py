"""Every service's health, on its in-memory store: what an operator's probe reads when the store answers and
when it does not (the broker-side round trip is the faults and bus tests')."""

from __future__ import annotations

from typing import Any

import pytest
from nameko.testing.services import worker_factory

from services.audit.memory import MemoryAuditStore
from services.audit.service import AuditService
from services.common.memory import MemoryStore
from services.consent.memory import MemoryConsentStore
from services.consent.service import ConsentService
from services.dossier.memory import MemoryDossierStore
from services.dossier.service import DossierService
from services.identity.memory import MemoryIdentityStore
from services.identity.service import IdentityService
from services.notify.memory import MemoryNotifyStore
from services.notify.service import NotifyService

SERVICES: list[tuple[type[Any], type[MemoryStore]]] = [
    (AuditService, MemoryAuditStore),
    (ConsentService, MemoryConsentStore),
    (DossierService, MemoryDossierStore),
    (IdentityService, MemoryIdentityStore),
    (NotifyService, MemoryNotifyStore),
]


@pytest.mark.parametrize(("service_class", "store_class"), SERVICES, ids=lambda c: c.__name__)
def test_health_says_whether_the_store_answers(
    service_class: type[Any], store_class: type[MemoryStore]
) -> None:
    store = store_class()
    service = worker_factory(service_class, store=store)
    assert service.health() == {"service": service_class.name, "status": "ok"}
    store.available = False
    assert service.health() == {"service": service_class.name, "status": "store_unavailable"}
