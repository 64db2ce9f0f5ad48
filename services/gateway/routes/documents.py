"""The documents of a patient's dossier, and the care summary drawn from them."""

import base64
from typing import Annotated

from fastapi import APIRouter, Body, Header, Query, Response

from services.dossier.schemas import (
    CareSummary,
    DocumentList,
    DocumentMetadata,
    DocumentSearch,
    DocumentSubmission,
    DocumentWithContent,
    VisibilityChange,
)
from services.gateway.auth import Token
from services.gateway.routes import InsPath
from services.gateway.rpc import Services

router = APIRouter(tags=["documents"])
Submission = Annotated[DocumentSubmission, Body()]


@router.get("/patients/{ins}/summary")
def care_summary(token: Token, ins: InsPath, services: Services) -> CareSummary:
    """The care summary, on one screen: medicines dispensed over the last 24 months grouped by substance (ATC
    class, else the drug code) with first and last dispensing and counts; exams and acts with their dates, a
    repeat within its kind's window flagged as possibly redundant (`redundancy_windows` says the windows);
    the latest document of each category; the allergies from the personal space. Under the same rules as the
    document list: the medicines and acts only for a matrix row reading class 60, the allergies for one
    reading class 90 (else listed in `withheld` with the rule); masked and invisible documents never appear.
    Traced like a list."""
    return CareSummary(**services.dossier.care_summary(token, ins))


@router.post("/patients/{ins}/documents", status_code=201)
def add_document(
    token: Token,
    ins: InsPath,
    submission: Submission,
    response: Response,
    services: Services,
    idempotency_key: Annotated[
        str | None, Header(description="retry safely: same key and body, same document")
    ] = None,
) -> DocumentMetadata:
    """Deposit a document (metadata and base64 content) in the patient's dossier. Send an
    `Idempotency-Key` so that a retried upload never creates a second document."""
    result = services.dossier.add_document(
        token, ins, submission.model_dump(mode="json"), idempotency_key
    )
    if result.pop("replayed", False):
        response.headers["Idempotent-Replayed"] = "true"
    return DocumentMetadata(**result)


@router.get("/patients/{ins}/documents")
def search_documents(
    token: Token,
    ins: InsPath,
    search: Annotated[DocumentSearch, Query()],
    services: Services,
) -> DocumentList:
    """The documents the caller may see, newest first, filtered by category (repeat the parameter
    for several), type, author, date of care, deposit time, last change, security label, the document
    a version replaces and status (current by default; archived, replaced). `total` counts only what the
    caller may see; pass `next_cursor` back as `cursor` for more."""
    return DocumentList(**services.dossier.search(token, ins, search.model_dump(mode="json")))


@router.post("/patients/{ins}/documents/{document_id}/replacement", status_code=201)
def replace_document(
    token: Token, ins: InsPath, document_id: str, submission: Submission, services: Services
) -> DocumentMetadata:
    """A new version by the document's author; the old one stays in history as `replaced`."""
    result = services.dossier.replace_document(
        token, ins, document_id, submission.model_dump(mode="json")
    )
    return DocumentMetadata(**result)


@router.post("/patients/{ins}/documents/{document_id}/archive")
def archive_document(
    token: Token, ins: InsPath, document_id: str, services: Services
) -> DocumentMetadata:
    """Hide from default searches (the author or the patient); `/unarchive` brings it back."""
    return DocumentMetadata(**services.dossier.archive_document(token, ins, document_id, True))


@router.post("/patients/{ins}/documents/{document_id}/unarchive")
def unarchive_document(
    token: Token, ins: InsPath, document_id: str, services: Services
) -> DocumentMetadata:
    return DocumentMetadata(**services.dossier.archive_document(token, ins, document_id, False))


@router.delete("/patients/{ins}/documents/{document_id}")
def delete_document(
    token: Token, ins: InsPath, document_id: str, services: Services
) -> DocumentMetadata:
    """Delete (its author only; the patient deletes what they added and masks the rest)."""
    return DocumentMetadata(**services.dossier.delete_document(token, ins, document_id))


@router.post("/patients/{ins}/documents/{document_id}/release")
def release_document(
    token: Token, ins: InsPath, document_id: str, services: Services
) -> DocumentMetadata:
    """The author makes a document invisible to the patient visible (after the announcement
    consultation); without it, it becomes visible one month after its deposit."""
    return DocumentMetadata(**services.dossier.release_document(token, ins, document_id))


@router.put("/patients/{ins}/documents/{document_id}/visibility")
def set_visibility(
    token: Token,
    ins: InsPath,
    document_id: str,
    change: VisibilityChange,
    services: Services,
) -> DocumentMetadata:
    """The patient masks a document from professionals (all but its author) or unmasks it."""
    result = services.dossier.set_visibility(
        token, ins, document_id, change.model_dump(mode="json")
    )
    return DocumentMetadata(**result)


@router.get("/patients/{ins}/documents/{document_id}")
def read_document(
    token: Token, ins: InsPath, document_id: str, services: Services
) -> DocumentWithContent:
    """A document's metadata and content (base64). The read is traced before it is served."""
    return DocumentWithContent(**services.dossier.read_document(token, ins, document_id))


# The bytes themselves, not JSON: no response model.
@router.get(
    "/patients/{ins}/documents/{document_id}/content",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def read_content(token: Token, ins: InsPath, document_id: str, services: Services) -> Response:
    """The document's bytes, with its format as content type."""
    result = services.dossier.read_document(token, ins, document_id)
    return Response(base64.b64decode(result["content"]), media_type=result["document"]["format"])
