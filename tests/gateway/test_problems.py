"""Each of our errors (services/common/errors.py), raised by a service, as the client sees it: one HTTP
status and an RFC 9457 problem body."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from services.common.errors import (
    AccessDenied,
    ConfigurationError,
    Conflict,
    DmpError,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    TooManyRequests,
    Unauthenticated,
)
from services.gateway import problems
from tests.gateway.conftest import INS, PATIENT, Gateway
from tests.gateway.test_fhir_xml import Facade

PATH = f"/api/v1/patients/{INS}/dossier"


@pytest.mark.parametrize(
    ("error", "status", "title"),
    [
        (DmpError("refused"), 400, "Bad request"),
        (InvalidInput.for_field("ins", "is not an INS"), 422, "Invalid input"),
        (Unauthenticated("the access token has expired"), 401, "Authentication required"),
        (AccessDenied.by_rule("R-NO-CONSENT", "no consent"), 403, "Access denied"),
        (NotFound("no such dossier"), 404, "Not found"),
        (Conflict("the dossier changed meanwhile", [{"state": "changed"}]), 409, "Conflict"),
        (
            PayloadTooLarge("too large", [{"field": "content", "limit": "10"}]),
            413,
            "Payload too large",
        ),
        (TooManyRequests.retry_in(7), 429, "Too many requests"),
        (ServiceUnavailable("the store is unavailable"), 503, "Service unavailable"),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_an_error_of_ours_is_its_status_and_a_problem_body(
    gateway: Gateway, error: DmpError, status: int, title: str
) -> None:
    gateway.cluster.dossier = Failing(error)
    answer = gateway.client.get(PATH, headers=gateway.bearer(PATIENT))
    assert answer.status_code == status
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json() == {
        "type": f"https://dmp.example/problems/{error.code}",
        "title": title,
        "status": status,
        "code": error.code,
        "detail": error.message,
        "instance": PATH,
        "request_id": "req-1",
        "errors": error.details,
    }


def test_a_configuration_error_is_an_internal_error_that_tells_nothing(gateway: Gateway) -> None:
    gateway.cluster.dossier = Failing(ConfigurationError("DMP_MASTER_KEY is malformed"))
    answer = gateway.client.get(PATH, headers=gateway.bearer(PATIENT))
    assert (answer.status_code, answer.json()["code"]) == (500, "internal_error")
    assert "DMP_MASTER_KEY" not in answer.text


def test_a_rate_limit_says_when_to_retry(gateway: Gateway) -> None:
    gateway.cluster.dossier = Failing(TooManyRequests.retry_in(7))
    assert gateway.client.get(PATH, headers=gateway.bearer(PATIENT)).headers["Retry-After"] == "7"


@pytest.mark.parametrize(
    "error",
    [
        TooManyRequests.retry_in(7),
        Conflict(
            "a deposit of this submission set is in progress; retry shortly",
            [{"field": "submission_set.unique_id"}, {"retry_after": "7"}],
        ),
    ],
    ids=["rate-limited", "in-progress"],
)
def test_a_fhir_client_is_told_when_to_retry_too(error: DmpError) -> None:
    """The FHIR facade answered an OperationOutcome without Retry-After (REST had it)."""
    app = FastAPI()
    problems.install(app)

    @app.get("/fhir/DocumentReference/{fhir_id}")
    def read(fhir_id: str) -> None:
        raise error

    answer = Facade(app).get("/fhir/DocumentReference/doc_1")
    assert answer.status_code == error.status
    assert answer.json()["resourceType"] == "OperationOutcome"
    assert answer.headers["Retry-After"] == "7"


class Failing:
    """A dossier service whose every call raises `error`, as nameko hands our errors back to the caller."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def status(self, token: str, ins: str) -> None:
        raise self.error
