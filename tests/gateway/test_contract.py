"""What the REST API says it answers: every route answering JSON names a model of its own, never a bare object
(a bare object says nothing of its fields, and a response model is also what keeps the body to them)."""

from __future__ import annotations

from typing import Any

from tests.gateway.conftest import Gateway

NOT_OURS_TO_MODEL = {
    ("post", "/api/v1/logout"),  # 204, no body
    ("get", "/api/v1/patients/{ins}/documents/{document_id}/content"),  # the document's bytes
    ("get", "/api/v1/asyncapi.json"),  # an AsyncAPI document, with a schema of its own
}


def named(schema: dict[str, Any]) -> bool:
    if "$ref" in schema:
        return True
    if schema.get("type") == "array":
        return named(schema["items"])
    return bool(schema.get("anyOf")) and all(named(choice) for choice in schema["anyOf"])


def test_every_rest_route_answering_json_names_its_model(gateway: Gateway) -> None:
    spec = gateway.client.get("/api/v1/openapi.json").json()
    unnamed = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if not path.startswith("/api/v1/") or (method, path) in NOT_OURS_TO_MODEL:
                continue
            answers = [
                response["content"]["application/json"]["schema"]
                for code, response in operation["responses"].items()
                if code.startswith("2") and "content" in response
            ]  # a 2xx documented in words only
            if not answers or not all(named(schema) for schema in answers):
                unnamed.append(f"{method.upper()} {path}")
    assert unnamed == []
