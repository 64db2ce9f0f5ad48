"""Development enrolment (the INSi teleservice and the RPPS directory replace it: issue 4): what a
registration records. Pure functions."""

from __future__ import annotations

from datetime import datetime

from services.common.actors import Role
from services.identity.records import (
    AccountStatus,
    CounterAgent,
    Patient,
    Professional,
    SystemClient,
)
from services.identity.schemas import (
    AgentRegistration,
    PatientRegistration,
    ProfessionalRegistration,
    SystemRegistration,
)


def patient(registration: PatientRegistration, patient_id: str, at: datetime) -> Patient:
    return Patient(
        id=patient_id,
        ins=registration.ins,
        given_name=registration.given_name,
        family_name=registration.family_name,
        sex=registration.sex,
        birth_date=registration.birth_date,
        email=str(registration.email),
        registered_at=at,
        birth_place_code=registration.birth_place_code,
        mobile=registration.mobile,
        language=registration.language,
    )


def professional(registration: ProfessionalRegistration, at: datetime) -> Professional:
    return Professional(
        id=f"rpps:{registration.rpps}",
        rpps=registration.rpps,
        profession=registration.profession,
        given_name=registration.given_name,
        family_name=registration.family_name,
        status=AccountStatus.ACTIVE,
        registered_at=at,
        specialty=registration.specialty,
        organisation=registration.organisation,
        email=str(registration.email) if registration.email is not None else None,
        roles=tuple(Role(role) for role in registration.roles),
        card_public_key=registration.card_public_key,
    )


def agent(registration: AgentRegistration, at: datetime) -> CounterAgent:
    return CounterAgent(
        id=f"agent:{registration.agent_id}",
        agent_id=registration.agent_id,
        organisation=registration.organisation,
        given_name=registration.given_name,
        family_name=registration.family_name,
        card_public_key=registration.card_public_key,
        status=AccountStatus.ACTIVE,
        registered_at=at,
    )


def system(registration: SystemRegistration, at: datetime) -> SystemClient:
    return SystemClient(
        id=f"system:{registration.client_id}",
        client_id=registration.client_id,
        card_public_key=registration.public_key,
        status=AccountStatus.ACTIVE,
        registered_at=at,
    )
