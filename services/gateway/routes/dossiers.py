"""A patient's dossier: opening it, where it stands, closing, reopening and deleting it."""

from fastapi import APIRouter

from services.dossier.schemas import DossierOpened, DossierOpening, DossierStatus
from services.gateway import responses
from services.gateway.auth import Token
from services.gateway.routes import InsPath
from services.gateway.rpc import Services

router = APIRouter(tags=["dossiers"])


@router.post("/dossiers", status_code=201)
def open_dossier(token: Token, opening: DossierOpening, services: Services) -> DossierOpened:
    """Open a patient's dossier: by the patient, or by a professional with the patient's consent."""
    return DossierOpened(**services.dossier.open(token, opening.model_dump(mode="json")))


@router.get("/patients/{ins}/dossier")
def dossier_status(token: Token, ins: InsPath, services: Services) -> DossierStatus:
    """Where the dossier stands: open, closed (and until when it is kept) or being deleted. The
    patient's side only."""
    return DossierStatus(**services.dossier.status(token, ins))


@router.post("/patients/{ins}/dossier/close")
def close_dossier(token: Token, ins: InsPath, services: Services) -> responses.DossierClosed:
    """Close the dossier (the patient or their representative): its content is inaccessible at once,
    it is archived and purged 10 years later unless reopened."""
    return responses.DossierClosed(**services.dossier.close(token, ins))


@router.post("/patients/{ins}/dossier/reopen")
def reopen_dossier(token: Token, ins: InsPath, services: Services) -> responses.DossierReopened:
    """Reopen a closed dossier: everything is restored as it was."""
    return responses.DossierReopened(**services.dossier.reopen(token, ins))


@router.post("/patients/{ins}/dossier/deletion", status_code=202)
def request_deletion(token: Token, ins: InsPath, services: Services) -> responses.DeletionRequested:
    """Ask for deletion: the content becomes unreadable at once (its key is destroyed) and everything
    is purged within 3 months. This cannot be undone."""
    return responses.DeletionRequested(**services.dossier.request_deletion(token, ins))
