"""The Assurance Maladie's reimbursement lines ("données de remboursement", class 60)."""

from typing import Annotated

from fastapi import APIRouter, Query

from services.dossier.schemas import (
    ReimbursementBatch,
    ReimbursementLines,
    ReimbursementReport,
    ReimbursementSearch,
)
from services.gateway.auth import Token
from services.gateway.routes import InsPath
from services.gateway.rpc import Services

router = APIRouter(tags=["reimbursement feed"])


@router.post("/reimbursements")
def add_reimbursements(
    token: Token, batch: ReimbursementBatch, services: Services
) -> ReimbursementReport:
    """The Assurance Maladie feed (a system token) sends up to 5,000 lines for many patients at once.
    Idempotent by `line_id`; each refused line is reported with its reason, the others are kept."""
    return ReimbursementReport(
        **services.dossier.add_reimbursements(token, batch.model_dump(mode="json"))
    )


@router.get("/patients/{ins}/reimbursements")
def reimbursements(
    token: Token,
    ins: InsPath,
    page: Annotated[ReimbursementSearch, Query()],
    services: Services,
) -> ReimbursementLines:
    """The patient's reimbursed care ("données de remboursement", class 60), newest first, for those
    whose profession's matrix row includes class 60, and the patient."""
    return ReimbursementLines(
        **services.dossier.reimbursements(token, ins, page.model_dump(mode="json"))
    )
