"""ITI-66, Find Document Lists: GET and POST /fhir/List/_search and GET /fhir/List/{id}, the submission sets
the dossier keeps with their deposits (services/gateway/fhir_list.py maps them). Same machinery as ITI-67's
DocumentReference search (services/gateway/fhir.py): strict handling, the self and next links, the ignored
parameters' warning, JSON and (through the facade's middleware) XML."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from services.gateway import fhir, fhir_list
from services.gateway import fhir_mapping as mapping
from services.gateway.auth import Token
from services.gateway.rpc import services


def list_searchset(request: Request, token: str, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """ITI-66, the same for GET and POST _search."""
    search = fhir_list.parse(pairs)
    fhir.refuse_unsupported_if_strict(request, search.unsupported)
    if search.matches_nothing:
        page: dict[str, Any] = {"submission_sets": [], "total": 0, "next_cursor": None, "ins": ""}
    else:
        page = services().dossier.search_submission_sets(token, search.ins, search.query)
    base = fhir.base_url(request)
    return fhir.searchset_bundle(
        f"{base}/fhir/List",
        page["total"],
        [
            (
                mapping.fhir_id(found["submission_set_id"]),
                fhir_list.list_resource(found, page["ins"], base),
            )
            for found in page["submission_sets"]
        ],
        search.applied,
        search.unsupported,
        page["next_cursor"],
    )


def router() -> APIRouter:
    outcome = {"description": "an OperationOutcome", "content": {"application/fhir+json": {}}}
    api = APIRouter(
        tags=["FHIR"],
        default_response_class=fhir.FhirResponse,
        responses={status: outcome for status in (400, 401, 403, 404, 406, 429, 500, 503, 504)},
    )
    documented = {
        "parameters": [
            {
                "name": name,
                "in": "query",
                "required": False,
                "schema": {"type": "string"},
                "description": text,
            }
            for name, _, _, text in [
                *fhir_list.LIST_PARAMETERS,
                ("_count", "number", None, "page size, 0 to 100"),
                ("_cursor", "string", None, "the next page's position (from the next link)"),
            ]
        ]
    }

    @api.get("/List", openapi_extra=documented)
    def find_lists(request: Request, token: Token) -> dict[str, Any]:
        """ITI-66: the SubmissionSet Lists of one patient with the documents the caller may see."""
        return list_searchset(request, token, request.query_params.multi_items())

    @api.post("/List/_search")
    def find_lists_by_post(
        request: Request,
        token: Token,
        pairs: Annotated[list[tuple[str, str]], Depends(fhir.form_pairs)],
    ) -> dict[str, Any]:
        """ITI-66 with its parameters in a form-encoded body: the same search as GET."""
        return list_searchset(request, token, pairs)

    @api.get("/List/{fhir_id}")
    def read_list(
        request: Request, token: Token, response: Response, fhir_id: str
    ) -> dict[str, Any]:
        """A SubmissionSet List by id; one whose documents the caller may see none of answers 404, as an
        unknown id does."""
        found = services().dossier.find_submission_set(token, fhir_list.set_id(fhir_id))
        resource = fhir_list.list_resource(
            found["submission_set"], found["ins"], fhir.base_url(request)
        )
        response.headers["ETag"] = 'W/"1"'  # a submission set never changes
        return resource

    return api
