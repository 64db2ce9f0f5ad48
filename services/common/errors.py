"""Errors raised on purpose, shared by every service and the gateway.

Each error is a value: a stable `code`, a human message and, when one field is at fault, its
name. Detail values are strings: nameko carries exception arguments across RPC as text. They are
registered with nameko so that a caller over RPC gets the same class back (not a
bare RemoteError), and the gateway maps each class to exactly one HTTP status.
Messages never contain personal data: they name fields and rules, not values.
"""

from __future__ import annotations

from typing import Any

from nameko.exceptions import deserialize_to_instance


class DmpError(Exception):
    code = "error"
    status = 400

    def __init__(self, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message, details or [])
        self.message = message
        self.details: list[dict[str, Any]] = details or []

    def __str__(self) -> str:
        return self.message

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


@deserialize_to_instance
class InvalidInput(DmpError):
    """The request is malformed: details list each field at fault and why."""

    code = "invalid_input"
    status = 422

    @classmethod
    def for_field(cls, field: str, reason: str) -> InvalidInput:
        details = [{"field": field, "reason": reason}]
        return cls(cls.summary(details), details)

    @staticmethod
    def summary(details: list[dict[str, str]]) -> str:
        return "invalid input: " + "; ".join(f"{d['field']}: {d['reason']}" for d in details)


@deserialize_to_instance
class Unauthenticated(DmpError):
    """No token, or a token that is expired, forged or of a refused kind."""

    code = "unauthenticated"
    status = 401


@deserialize_to_instance
class AccessDenied(DmpError):
    """The consent service said no; details carry the rule that decided."""

    code = "access_denied"
    status = 403

    @classmethod
    def by_rule(cls, rule: str, reason: str) -> AccessDenied:
        return cls(reason, [{"rule": rule}])


@deserialize_to_instance
class NotFound(DmpError):
    code = "not_found"
    status = 404


@deserialize_to_instance
class Conflict(DmpError):
    code = "conflict"
    status = 409


@deserialize_to_instance
class PreconditionFailed(DmpError):
    """The caller's condition on the current state (FHIR If-Match: the version it last read) no longer holds:
    nothing was changed."""

    code = "precondition_failed"
    status = 412


@deserialize_to_instance
class PayloadTooLarge(DmpError):  # details: [{"field": ..., "limit": "<bytes>"}]
    code = "payload_too_large"
    status = 413


@deserialize_to_instance
class TooManyRequests(DmpError):
    """A rate limit was reached; details carry retry_after in seconds."""

    code = "too_many_requests"
    status = 429

    @classmethod
    def retry_in(cls, seconds: int) -> TooManyRequests:
        return cls(f"too many requests; retry in {seconds} s", [{"retry_after": str(seconds)}])


@deserialize_to_instance
class ServiceUnavailable(DmpError):
    """A dependency (store, broker) failed; the action was not done and may be retried."""

    code = "service_unavailable"
    status = 503


class ConfigurationError(RuntimeError):
    """A setting is missing or malformed: raised at start-up, never to a client."""
