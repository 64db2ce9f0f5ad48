"""Master-key rotation: reads keep working throughout, data keys are re-wrapped, the old key can go."""

import base64
import os
from collections.abc import Callable
from typing import Any

import pytest

from services.common.errors import ServiceUnavailable
from tests.conftest import People, service_database
from tests.journeys import PDF, Deposit


def test_rotation_rewraps_every_key_and_the_old_master_can_go(
    cluster: Any,
    deposit: Deposit,
    people: People,
    monkeypatch: pytest.MonkeyPatch,
    environment: dict[str, str],
    restart_settings: Callable[[], None],
) -> None:
    old = environment["DMP_MASTER_KEY"]
    new = base64.urlsafe_b64encode(os.urandom(32)).decode()
    monkeypatch.setenv("DMP_MASTER_KEY", new)
    restart_settings()
    with pytest.raises(ServiceUnavailable, match="DMP_PREVIOUS_MASTER_KEYS"):
        cluster.dossier.read_document(
            deposit.patient, deposit.ins, deposit.document_id
        )  # old key unknown
    monkeypatch.setenv("DMP_PREVIOUS_MASTER_KEYS", old)
    restart_settings()
    assert (
        base64.b64decode(
            cluster.dossier.read_document(deposit.patient, deposit.ins, deposit.document_id)[
                "content"
            ]
        )
        == PDF
    )

    assert cluster.dossier.rewrap_keys() == {"rewrapped": 1, "remaining": 0}
    monkeypatch.delenv("DMP_PREVIOUS_MASTER_KEYS")
    restart_settings()
    assert (
        base64.b64decode(
            cluster.dossier.read_document(deposit.patient, deposit.ins, deposit.document_id)[
                "content"
            ]
        )
        == PDF
    )
    dossier = service_database(environment, "dossier").dossiers.find_one({"ins": deposit.ins})
    assert dossier is not None and old not in str(dossier)
    assert cluster.dossier.rewrap_keys() == {"rewrapped": 0, "remaining": 0}
