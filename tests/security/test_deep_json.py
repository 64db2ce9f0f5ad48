"""Issue 17 item 13: JSON nested thousands of levels deep is bad input (a clear 422 naming the field),
never a 500 (RecursionError), whether it is a FHIR JSON document deposited over REST or the FHIR
facade, or the JSON request body of any route."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from services.common.codes import INS_SYSTEM
from services.common.jsondepth import MAX_JSON_DEPTH
from tests.system import Api, Running

pytestmark = pytest.mark.slow


def nested(depth: int) -> str:
    """A FHIR resource whose `extension` holds `depth` nested arrays."""
    return '{"resourceType": "Basic", "extension": ' + "[" * depth + "]" * depth + "}"


def fhir_document(text: str, **overrides: Any) -> dict[str, Any]:
    return {
        "category": "10",
        "type_code": "11488-4",
        "title": "Résumé",
        "care_date": "2026-11-20",
        "format": "application/fhir+json",
        "content": base64.b64encode(text.encode()).decode(),
        **overrides,
    }


def reference(ins: str, text: str) -> dict[str, Any]:
    return {
        "resourceType": "DocumentReference",
        "status": "current",
        "type": {"coding": [{"system": "http://loinc.org", "code": "11488-4"}]},
        "category": [{"coding": [{"system": "urn:oid:1.2.250.1.213.1.1.4.1", "code": "10"}]}],
        "subject": {"identifier": {"system": INS_SYSTEM, "value": ins}},
        "context": {"period": {"start": "2026-11-20"}},
        "content": [
            {
                "attachment": {
                    "contentType": "application/fhir+json",
                    "title": "Résumé",
                    "data": base64.b64encode(text.encode()).decode(),
                }
            }
        ],
    }


def names(response: httpx.Response, field: str) -> bool:
    body = response.json()
    if body.get("resourceType") == "OperationOutcome":
        return any(field in issue.get("diagnostics", "") for issue in body["issue"])
    return any(error.get("field") == field for error in body.get("errors", []))


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 2_000, 100_000])
def test_item13_deep_fhir_json_deposited_over_rest_is_a_422_naming_content(
    system: Running, api: Api, depth: int
) -> None:
    ins, _, doctor = api.dossier_with_consenting_doctor(f"deep-rest-{depth}@patients.dmp-test.fr")
    response = system.http.post(
        f"/api/v1/patients/{ins}/documents", json=fhir_document(nested(depth)), headers=doctor
    )
    assert response.status_code == 422, response.text
    assert names(response, "content"), response.text
    assert "nested" in response.text


def test_item13_fhir_json_as_deep_as_allowed_is_deposited(system: Running, api: Api) -> None:
    ins, _, doctor = api.dossier_with_consenting_doctor("deep-ok@patients.dmp-test.fr")
    # the resource's object is one level, its extension's arrays the rest
    response = system.http.post(
        f"/api/v1/patients/{ins}/documents",
        json=fhir_document(nested(MAX_JSON_DEPTH - 1)),
        headers=doctor,
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 2_000])
def test_item13_deep_fhir_json_deposited_over_the_fhir_facade_is_a_422(
    system: Running, api: Api, depth: int
) -> None:
    ins, _, doctor = api.dossier_with_consenting_doctor(f"deep-fhir-{depth}@patients.dmp-test.fr")
    response = system.http.post(
        "/fhir/DocumentReference", json=reference(ins, nested(depth)), headers=doctor
    )
    assert response.status_code == 422, response.text
    assert response.json()["resourceType"] == "OperationOutcome"
    assert "content" in response.text and "nested" in response.text


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 900, 2_000, 100_000])
def test_item13_a_deep_fhir_request_body_is_a_422_operation_outcome(
    system: Running, api: Api, depth: int
) -> None:
    ins, _, doctor = api.dossier_with_consenting_doctor(f"deep-body-{depth}@patients.dmp-test.fr")
    resource = reference(ins, '{"resourceType": "Basic"}')
    body = json.dumps(resource)[:-1] + ', "extension": ' + "[" * depth + "]" * depth + "}"
    for path in ("/fhir/DocumentReference", "/fhir"):
        response = system.http.post(
            path, content=body, headers={**doctor, "Content-Type": "application/fhir+json"}
        )
        assert response.status_code == 422, (path, response.text)
        assert response.json()["resourceType"] == "OperationOutcome"
        assert "body" in response.text and "nested" in response.text


def json_routes(system: Running) -> list[tuple[str, str]]:
    spec = system.http.get("/api/v1/openapi.json").json()
    routes = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if "application/json" in operation.get("requestBody", {}).get("content", {}):
                routes.append((method.upper(), path))
    return [*routes, ("POST", "/fhir"), ("POST", "/fhir/DocumentReference")]


@pytest.mark.parametrize("depth", [900, 2_000, 100_000])
def test_item13_a_deep_json_body_to_every_json_route_is_a_422_naming_the_body(
    system: Running, api: Api, depth: int
) -> None:
    ins, patient, doctor = api.dossier_with_consenting_doctor(
        f"deep-all-{depth}@patients.dmp-test.fr"
    )
    routes = json_routes(system)
    assert len(routes) > 20  # the spec was read
    deep = "[" * depth + "]" * depth
    bodies = {
        "whole body": deep,
        "inside a field": '{"lines": [{"x": ' + deep + '}], "ins": ' + deep + "}",
    }
    for method, template in routes:
        path = (
            template.replace("{ins}", ins)
            .replace("{document_id}", "doc_" + "0" * 32)
            .replace("{professional_id}", "rpps:10000000009")
        )
        for label, body in bodies.items():
            for headers in (patient, doctor, {}):
                response = system.http.request(
                    method,
                    path,
                    content=body,
                    headers={**headers, "Content-Type": "application/json"},
                )
                assert response.status_code == 422, (
                    method,
                    template,
                    label,
                    response.status_code,
                    response.text,
                )
                assert "nested" in response.text, (method, template, label, response.text)
                assert (
                    response.headers["X-Request-ID"]
                    and response.headers["Cache-Control"] == "no-store"
                )
