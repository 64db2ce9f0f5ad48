"""Who did what in a patient's dossier (audit's traces)."""

from typing import Annotated

from fastapi import APIRouter, Query

from services.audit.schemas import History, HistoryQuery
from services.gateway import responses
from services.gateway.auth import Token
from services.gateway.routes import InsPath
from services.gateway.rpc import Services

router = APIRouter(tags=["history"])
Filters = Annotated[HistoryQuery, Query()]


@router.get("/patients/{ins}/history")
def history(token: Token, ins: InsPath, query: Filters, services: Services) -> History:
    """Who did what in the dossier, newest first, with plain labels: the whole history for the
    patient's side and the médecin traitant, the traces of their own documents for an author.
    Filters: dates, professional, action; `next_cursor` for more."""
    return History(
        **services.audit.history(token, ins, {**query.model_dump(mode="json"), "format": "json"})
    )


@router.get("/patients/{ins}/history/fhir")
def history_fhir(
    token: Token, ins: InsPath, query: Filters, services: Services
) -> responses.AuditEventBundle:
    """The same history as a FHIR R4 Bundle of AuditEvent resources."""
    bundle = services.audit.history(token, ins, {**query.model_dump(mode="json"), "format": "fhir"})
    return responses.AuditEventBundle(**bundle)
