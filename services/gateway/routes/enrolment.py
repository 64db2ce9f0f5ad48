"""Development enrolment of patients, professionals, agents and systems (off unless DMP_DEV_LOGIN is on)."""

from fastapi import APIRouter

from services.gateway import responses
from services.gateway.routes import InsPath
from services.gateway.rpc import Services
from services.identity.schemas import (
    AccessToken,
    AgentRegistration,
    DevTokenRequest,
    PatientRegistration,
    ProfessionalRegistration,
    Representation,
    SystemRegistration,
)

router = APIRouter(tags=["development enrolment"])


@router.post("/patients", status_code=201)
def register_patient(
    registration: PatientRegistration, services: Services
) -> responses.PatientRegistered:
    """Register a patient (development only, when DMP_DEV_LOGIN is on)."""
    return responses.PatientRegistered(
        **services.identity.register_patient(registration.model_dump(mode="json"))
    )


@router.post("/professionals", status_code=201)
def register_professional(
    registration: ProfessionalRegistration, services: Services
) -> responses.ProfessionalRegistered:
    """Register a professional (development only, when DMP_DEV_LOGIN is on)."""
    registered = services.identity.register_professional(registration.model_dump(mode="json"))
    return responses.ProfessionalRegistered(**registered)


@router.post("/agents", status_code=201)
def register_agent(
    registration: AgentRegistration, services: Services
) -> responses.ActorRegistered:
    """Register an Assurance Maladie counter agent and their card's key (development only)."""
    return responses.ActorRegistered(
        **services.identity.register_agent(registration.model_dump(mode="json"))
    )


@router.post("/systems", status_code=201)
def register_system(
    registration: SystemRegistration, services: Services
) -> responses.ActorRegistered:
    """Register a system client, e.g. the reimbursement feed, and its key (development only)."""
    return responses.ActorRegistered(
        **services.identity.register_system(registration.model_dump(mode="json"))
    )


@router.post("/patients/{ins}/representatives", status_code=201)
def add_representative(
    ins: InsPath, body: Representation, services: Services
) -> responses.RepresentativeAdded:
    """Record an adult as legal representative of a minor (development only): they then act for the
    minor with their own login, until the minor's 18th birthday."""
    return responses.RepresentativeAdded(
        **services.identity.add_representative(ins, body.model_dump(mode="json"))
    )


@router.post("/dev/tokens")
def dev_token(request: DevTokenRequest, services: Services) -> AccessToken:
    """A short-lived signed token for a registered actor (development only)."""
    return AccessToken(**services.identity.issue_dev_token(request.model_dump(mode="json")))
