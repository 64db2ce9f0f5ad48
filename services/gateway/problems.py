"""Errors as RFC 9457 problem details. A client never sees a stack trace or a bare 500 for
something it sent; the request id lets support find the matching log line."""

from __future__ import annotations

import logging
from typing import Any

from amqp.exceptions import ConnectionError as AmqpConnectionError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from kombu.exceptions import OperationalError
from nameko.exceptions import RemoteError, ReplyQueueExpiredWithPendingReplies, RpcTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.common import schemas
from services.common.errors import DmpError, InvalidInput
from services.common.rulebook import explain
from services.common.validation import describe_items
from services.gateway import rpc
from services.gateway.fhir_mapping import operation_outcome
from services.gateway.pages import error_page
from services.gateway.pages.session import space_of

log = logging.getLogger("dmp.gateway")

TITLES = {
    400: "Bad request",
    401: "Authentication required",
    403: "Access denied",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    412: "Precondition failed",
    413: "Payload too large",
    422: "Invalid input",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
    504: "Gateway timeout",
}

# The problems the REST routes may answer, for their OpenAPI description.
DOCUMENTED: dict[int | str, dict[str, Any]] = {
    status: {
        "model": schemas.Problem,
        "description": description,
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }
    for status, description in [
        (401, "no token, or an expired or forged one"),
        (403, "refused: the rule is in errors"),
        (404, "not found (or hidden from the caller)"),
        (409, "conflict with the current state"),
        (413, "too large"),
        (422, "invalid input: each field and why"),
        (429, "rate limited: see Retry-After"),
        (503, "a dependency is unavailable; nothing was done"),
        (504, "a service did not answer in time"),
        (500, "an unexpected error, logged with the request id"),
    ]
}


def problem(
    request: Request, status: int, code: str, detail: str, extra: dict[str, Any] | None = None
) -> Response:
    body = {
        "type": f"https://dmp.example/problems/{code}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "code": code,
        "detail": detail,
        "instance": str(request.url.path),
        "request_id": getattr(request.state, "request_id", None),
        **(extra or {}),
    }
    if space_of(request.url.path) is not None:  # a person in a browser: a page in their language
        return error_page(request, status, code, detail, extra or {})
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}  # RFC 6750, on every path
    retry_after = next(
        (d["retry_after"] for d in body.get("errors", []) if "retry_after" in d), None
    )
    if retry_after is not None:  # a rate limit, a request under way: when to try again
        headers["Retry-After"] = str(retry_after)
    if request.url.path.startswith("/fhir"):  # the FHIR facade speaks OperationOutcome
        errors = (extra or {}).get("errors", [])
        rule = next((e.get("rule") for e in errors if "rule" in e), None)
        fields = [str(e["field"]) for e in errors if isinstance(e, dict) and e.get("field")]
        outcome = operation_outcome(status, code, detail, rule, fields)
        return JSONResponse(
            outcome,
            status_code=status,
            media_type="application/fhir+json",
            headers={**headers, "X-Request-ID": str(body["request_id"])},
        )
    return JSONResponse(
        body, status_code=status, media_type="application/problem+json", headers=headers
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(DmpError)
    def dmp_error(request: Request, error: DmpError) -> Response:
        detail = error.message
        rule = next((d["rule"] for d in error.details if "rule" in d), None)
        if rule and request.headers.get("accept-language", "").lower().startswith("fr"):
            detail = explain(rule)[0]  # the rule's own French explanation
        return problem(request, error.status, error.code, detail, {"errors": error.details})

    @app.exception_handler(RequestValidationError)
    def invalid(request: Request, error: RequestValidationError) -> Response:
        details = describe_items(error.errors())
        summary = InvalidInput.summary(details)
        return problem(request, 422, InvalidInput.code, summary, {"errors": details})

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, error: StarletteHTTPException) -> Response:
        if error.status_code == 400:  # a body that is not even JSON: bad input like any other
            details = [{"field": "body", "reason": "is not valid JSON (UTF-8)"}]
            return problem(
                request, 422, InvalidInput.code, InvalidInput.summary(details), {"errors": details}
            )
        return problem(request, error.status_code, "http_error", str(error.detail))

    @app.exception_handler(RpcTimeout)
    def timeout(request: Request, error: RpcTimeout) -> Response:
        log.warning("request %s: a service did not answer in time", request.state.request_id)
        return problem(request, 504, "timeout", "a service did not answer in time; retry later")

    @app.exception_handler(
        ReplyQueueExpiredWithPendingReplies
    )  # its reply was lost: as for a lost connection
    @app.exception_handler(OperationalError)
    @app.exception_handler(AmqpConnectionError)
    @app.exception_handler(OSError)
    def broker_unreachable(request: Request, error: Exception) -> Response:
        # The broker went away mid-call (restart, network cut): nothing is known to have been done, or
        # it was done and the answer was lost; either way the client retries (with its Idempotency-Key).
        # This thread's RPC client is dropped so that the next call starts on a fresh connection.
        log.warning(
            "request %s: the message broker is unreachable (%s)",
            request.state.request_id,
            type(error).__name__,
        )
        rpc.discard_clients()
        response = problem(
            request, 503, "service_unavailable", "the service is briefly unavailable; retry shortly"
        )
        response.headers["Retry-After"] = "1"
        return response

    @app.exception_handler(RemoteError)
    def remote(request: Request, error: RemoteError) -> Response:
        # An unexpected failure inside a service: logged with its type, never shown.
        log.error("request %s: remote error %s", request.state.request_id, error.exc_type)
        return problem(
            request, 500, "internal_error", "an internal error occurred; it has been logged"
        )

    @app.exception_handler(Exception)
    def unexpected(request: Request, error: Exception) -> Response:
        log.exception("request %s: unexpected error", getattr(request.state, "request_id", None))
        return problem(
            request, 500, "internal_error", "an internal error occurred; it has been logged"
        )
