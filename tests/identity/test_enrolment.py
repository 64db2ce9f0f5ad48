"""What a development registration records (services/identity/enrolment.py), without a broker or a store."""

from __future__ import annotations

from datetime import UTC, date, datetime

from services.common.actors import Role
from services.identity import enrolment
from services.identity.records import AccountStatus
from services.identity.schemas import PatientRegistration, ProfessionalRegistration
from tests.identities import registration as patient_registration

AT = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)


def test_a_professional_is_recorded_active_under_their_rpps_with_their_roles() -> None:
    registration = ProfessionalRegistration.model_validate(
        {
            "rpps": "10000000009",
            "profession": "10",
            "given_name": "Jeanne",
            "family_name": "Durand",
            "roles": ["samu_regulator"],
        }
    )
    professional = enrolment.professional(registration, AT)
    assert (professional.id, professional.status, professional.registered_at) == (
        "rpps:10000000009",
        AccountStatus.ACTIVE,
        AT,
    )
    assert professional.roles == (Role.SAMU_REGULATOR,) and professional.email is None


def test_a_patient_is_recorded_with_their_birth_date_as_a_date() -> None:
    registration = PatientRegistration.model_validate(patient_registration(born=date(1980, 1, 15)))
    patient = enrolment.patient(registration, "pat_1", AT)
    assert patient.birth_date == date(1980, 1, 15) and patient.birth_place_code == "75056"
    assert patient.language == "fr" and patient.mobile is None
