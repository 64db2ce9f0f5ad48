"""The personal space's versions, sealed with the dossier's key: what is written opens again, only as the
version it was written as."""

import os
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from services.common import sealing
from services.dossier import crypto, personal_space
from services.dossier.records import Dossier, Status
from services.dossier.schemas import Allergy, PersonalSpace

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


MASTERS = (os.urandom(32),)


@pytest.fixture
def dossier() -> Dossier:
    return Dossier(
        id="dos_1",
        ins="1850775123456",
        patient_id="pat_1",
        status=Status.OPEN,
        opened_at=NOW,
        opened_by={"kind": "patient", "id": "pat_1"},
        channel="patient_online",
        consent_recorded_by="pat_1",
        key=crypto.new_key(MASTERS, "dos_1"),
    )


def test_a_sealed_version_opens_as_it_was_written(dossier: Dossier) -> None:
    content = PersonalSpace(allergies=[Allergy(substance="Latex")])
    written = personal_space.sealed(
        MASTERS, dossier, content, 2, NOW, {"kind": "patient", "id": "pat_1"}
    )
    assert personal_space.opened(MASTERS, dossier, written) == {
        "content": content.model_dump(mode="json"),
        "version": 2,
        "updated_at": NOW.isoformat(),
        "updated_by": {"kind": "patient", "id": "pat_1"},
    }


def test_before_the_first_version_the_space_is_empty(dossier: Dossier) -> None:
    assert personal_space.opened(MASTERS, dossier, None) == {
        "content": PersonalSpace().model_dump(mode="json"),
        "version": 0,
    }


def test_a_version_passed_off_as_another_does_not_open(dossier: Dossier) -> None:
    written = personal_space.sealed(
        MASTERS, dossier, PersonalSpace(), 2, NOW, {"kind": "patient", "id": "pat_1"}
    )
    with pytest.raises(sealing.ContentCorrupted):
        personal_space.content(MASTERS, dossier, replace(written, version=3))
