"""The FHIR R4 facade (IHE MHD as profiled by ANS): ITI-65 provide (a transaction Bundle, or one
DocumentReference with its data), ITI-67 find (DocumentReference search), ITI-68 retrieve (Binary), and
a CapabilityStatement. Same services, same rules, same errors, as OperationOutcome."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.responses import JSONResponse

from services.common.errors import InvalidInput
from services.gateway import fhir_mapping as mapping
from services.gateway.auth import Token
from services.gateway.rpc import services

FHIR_JSON = "application/fhir+json"
SEARCH_PARAMETERS = ["patient.identifier", "category", "type", "date", "status", "_count", "_cursor"]


class FhirResponse(JSONResponse):
    media_type = FHIR_JSON


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def capability_statement() -> dict[str, Any]:
    return {
        "resourceType": "CapabilityStatement", "status": "active", "date": "2026-11-23", "kind": "instance",
        "fhirVersion": "4.0.1", "format": ["application/fhir+json"],
        "implementation": {"description": "Dossier Médical Partagé — IHE MHD Document Responder and Recipient"},
        "rest": [{
            "mode": "server",
            "security": {"description": "Bearer access tokens from /api/v1/login (EdDSA JWT)"},
            "resource": [
                {"type": "DocumentReference",
                 "interaction": [{"code": "read"}, {"code": "search-type"}, {"code": "create"}],
                 "searchParam": [{"name": name, "type": "token" if name in {"category", "type", "status"} else "string"}
                                 for name in SEARCH_PARAMETERS[:5]]},
                {"type": "Binary", "interaction": [{"code": "read"}]},
            ],
            "interaction": [{"code": "transaction"}],
        }],
    }


def router() -> APIRouter:
    outcome = {"description": "an OperationOutcome", "content": {"application/fhir+json": {}}}
    api = APIRouter(tags=["FHIR"], default_response_class=FhirResponse,
                    responses={status: outcome for status in (401, 403, 404, 409, 413, 422, 429, 500, 503, 504)})

    @api.get("/metadata")
    def metadata() -> dict[str, Any]:
        """The CapabilityStatement."""
        return capability_statement()

    @api.get("/DocumentReference")
    def find(
        request: Request, token: Token,
        patient_identifier: Annotated[str | None, Query(alias="patient.identifier")] = None,
        category: str | None = None, type: str | None = None, date: Annotated[list[str] | None, Query()] = None,
        status: str = "current", count: Annotated[int, Query(alias="_count", ge=1, le=100)] = 50,
        cursor: Annotated[str | None, Query(alias="_cursor")] = None,
    ) -> dict[str, Any]:
        """ITI-67: DocumentReference by patient INS, category, type, date of care (ge/le) and status."""
        ins = mapping.patient_ins(patient_identifier)
        query: dict[str, Any] = {"limit": count, "cursor": cursor,
                                 "status": {"current": "current", "superseded": "replaced"}.get(status, status)}
        if category:
            query["category"] = [mapping.token_code(category)]
        if type:
            query["type_code"] = mapping.token_code(type)
        for bound in date or []:
            prefix, value = bound[:2], bound[2:]
            if prefix not in {"ge", "le"}:
                raise InvalidInput.for_field("date", "use ge<YYYY-MM-DD> and/or le<YYYY-MM-DD>")
            query["care_from" if prefix == "ge" else "care_to"] = value
        page = services().dossier.search(token, ins, query)
        base = base_url(request)
        bundle: dict[str, Any] = {
            "resourceType": "Bundle", "type": "searchset", "total": page["total"],
            "link": [{"relation": "self", "url": str(request.url)}],
            "entry": [{"fullUrl": f"{base}/fhir/DocumentReference/{mapping.fhir_id(d['document_id'])}",
                       "resource": mapping.document_reference(d, ins, base), "search": {"mode": "match"}}
                      for d in page["documents"]],
        }
        if page["next_cursor"]:
            bundle["link"].append({"relation": "next", "url": str(request.url.include_query_params(
                _cursor=page["next_cursor"]))})
        return bundle

    @api.get("/DocumentReference/{fhir_id}")
    def read_reference(request: Request, token: Token, fhir_id: str) -> dict[str, Any]:
        found = services().dossier.find_document(token, mapping.document_id(fhir_id), False)
        return mapping.document_reference(found["document"], found["ins"], base_url(request))

    @api.get("/Binary/{fhir_id}", response_class=Response)
    def retrieve(request: Request, token: Token, fhir_id: str) -> Response:
        """ITI-68: the document's bytes (or a Binary resource with Accept: application/fhir+json)."""
        found = services().dossier.find_document(token, mapping.document_id(fhir_id), True)
        content_type = found["document"]["format"]
        if FHIR_JSON in request.headers.get("accept", ""):
            binary = {"resourceType": "Binary", "id": fhir_id, "contentType": content_type, "data": found["content"]}
            return FhirResponse(binary)
        return Response(base64.b64decode(found["content"]), media_type=content_type)

    @api.post("/DocumentReference", status_code=201)
    def create(request: Request, token: Token, response: Response,
               resource: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
        """A DocumentReference with its content inline (attachment.data): what stock FHIR clients send."""
        if resource.get("resourceType") != "DocumentReference":
            raise InvalidInput.for_field("resourceType", "must be DocumentReference")
        ins, payload = mapping.submission(resource)
        document = services().dossier.add_document(token, ins, payload, request.headers.get("Idempotency-Key"))
        document.pop("replayed", None)
        location = f"{base_url(request)}/fhir/DocumentReference/{mapping.fhir_id(document['document_id'])}"
        response.headers["Location"] = location
        return mapping.document_reference(document, ins, base_url(request))

    @api.post("")
    def transaction(request: Request, token: Token, bundle: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
        """ITI-65: a transaction Bundle with the submission set (List), DocumentReferences and their Binaries."""
        if bundle.get("resourceType") != "Bundle" or bundle.get("type") != "transaction":
            raise InvalidInput.for_field("Bundle.type", "must be a transaction Bundle")
        entries = bundle.get("entry") or []
        binaries = {e.get("fullUrl"): e["resource"] for e in entries
                    if isinstance(e.get("resource"), dict) and e["resource"].get("resourceType") == "Binary"}
        responses = []
        for entry in entries:
            resource = entry.get("resource") or {}
            if resource.get("resourceType") != "DocumentReference":
                continue  # the List (submission set) and Binaries travel with the DocumentReferences
            url = (resource.get("content") or [{}])[0].get("attachment", {}).get("url")
            ins, payload = mapping.submission(resource, binaries.get(url))
            document = services().dossier.add_document(token, ins, payload)
            location = f"DocumentReference/{mapping.fhir_id(document['document_id'])}"
            responses.append({"response": {"status": "201 Created", "location": location}})
        if not responses:
            raise InvalidInput.for_field("Bundle.entry", "holds no DocumentReference")
        return {"resourceType": "Bundle", "type": "transaction-response", "entry": responses}

    return api
