"""What the security tests on the running system (tests/system.py) share: its administrator's broker URI and
an external service admitted on it, as an operator admits one."""

import uuid
from collections.abc import Iterator

import pytest

from services.common.broker_admin import Management, apply, dismiss, uri_for
from services.common.bus import Principal
from services.common.principals import user_prefix, vhost_of
from tests.system import Running


@pytest.fixture(scope="module")
def admin(system: Running) -> str:
    return system.stack.env["AMQP_URI"]


@pytest.fixture(scope="module")
def admitted(admin: str) -> Principal:
    """An external service, as `python -m services.common.broker_admin admit partner --events
    dossier:document_added` admits it."""
    return Principal("partner", f"{user_prefix(admin)}partner", (("dossier", "document_added"),))


@pytest.fixture(scope="module")
def partner(admin: str, admitted: Principal) -> Iterator[str]:
    """The admitted service's AMQP URI; once the module is done it leaves as `broker_admin remove` has it
    leave, its queues with it (the next module's partner starts with none of this one's events)."""
    management, password = Management.for_broker(admin), uuid.uuid4().hex
    apply(management, vhost_of(admin), admitted, password)
    yield uri_for(admin, admitted, password)
    dismiss(management, vhost_of(admin), admitted)
