"""Documents as they cross the bus: a deposit's metadata from its submission, a document's metadata as
answered (schemas.DocumentMetadata, the shape the gateway and the FHIR mapping read)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.common.actors import Actor
from services.common.errors import InvalidInput
from services.dossier.records import Document, Metadata, Visibility
from services.dossier.schemas import DocumentMetadata, DocumentSubmission, PersonName


def metadata_of(submission: DocumentSubmission, carried: Sequence[str] = ()) -> Metadata:
    """What the author says of the document, with the restrictions carried over from the version it replaces."""
    return Metadata(
        category=submission.category,
        type_code=submission.type_code,
        title=submission.title,
        care_date=submission.care_date,
        format=submission.format,
        confidentiality=submission.confidentiality,
        visibility=visibilities([*submission.visibility, *carried]),
        unique_id=submission.unique_id,
        care_start=submission.care_start,
        care_end=submission.care_end,
        imaging_study=submission.imaging_study,
        format_code=submission.format_code,
        facility_type=submission.facility_type,
        practice_setting=submission.practice_setting,
        events=tuple(submission.events),
        related=tuple(submission.related),
    )


def author_name(actor: Actor) -> PersonName | None:
    """The depositor's name as identity registered it (their token carries it), kept with what they deposit;
    None for an actor without one (a token issued before names were carried, a patient)."""
    if actor.given_name and actor.family_name:
        return PersonName(given=actor.given_name, family=actor.family_name)
    return None


def as_sent(submission: DocumentSubmission) -> dict[str, Any]:
    """The submission's JSON as its caller sent it, for the idempotency fingerprint: only the fields it set,
    so that the body the gateway sends (a submission's full JSON) gives the fingerprint it gave before deposits
    were typed, and a retry of it matches a claim made before then."""
    sent: dict[str, Any] = submission.model_dump(mode="json", exclude_unset=True)
    return sent


def visibilities(codes: Sequence[str]) -> tuple[Visibility, ...]:
    return tuple(Visibility(code) for code in codes)


def answer(document: Document) -> dict[str, Any]:
    """The document's metadata as JSON, as every RPC answers it."""
    return as_answered(document).model_dump(mode="json")


def as_answered(document: Document) -> DocumentMetadata:
    """The document's metadata as every RPC answers it."""
    metadata = document.metadata
    return DocumentMetadata(
        document_id=document.id,
        dossier_id=document.dossier_id,
        category=metadata.category,
        type_code=metadata.type_code,
        title=metadata.title,
        care_date=metadata.care_date,
        created_at=document.created_at,
        format=metadata.format,
        size=document.size,
        sha256=document.sha256,
        confidentiality=metadata.confidentiality,
        visibility=[code.value for code in metadata.visibility],
        status=document.status.value,
        replaces=document.replaces,
        replaced_by=document.replaced_by,
        imaging_study=metadata.imaging_study,
        author=document.author,
        author_name=document.author_name,
        patient_id=document.patient_id,
        unique_id=metadata.unique_id,
        care_start=metadata.care_start,
        care_end=metadata.care_end,
        format_code=metadata.format_code,
        facility_type=metadata.facility_type,
        practice_setting=metadata.practice_setting,
        events=list(metadata.events),
        related=list(metadata.related),
        revision=document.revision or 1,
        updated_at=document.updated_at,
    )


def check_together(
    deposits: Sequence[tuple[Metadata, str]], replaced: Sequence[str | None]
) -> None:
    """Documents deposited together (metadata and content digest each, and the id of the document each
    replaces): none may be another one again, carry another one's unique_id, or replace the same document."""
    unique_ids: dict[str, int] = {}
    replacing: dict[str, int] = {}
    for index, (metadata, digest) in enumerate(deposits):
        same = next(
            earlier for earlier, other in enumerate(deposits) if other == (metadata, digest)
        )
        if same != index:
            raise InvalidInput(
                f"document {index + 1}: the same document as document {same + 1}",
                [{"field": "content", "entry": str(index)}],
            )
        first = unique_ids.setdefault(metadata.unique_id, index) if metadata.unique_id else index
        if first != index:
            raise InvalidInput(
                f"document {index + 1}: the same unique_id as document {first + 1}",
                [{"field": "unique_id", "entry": str(index)}],
            )
        old = replaced[index]
        first = replacing.setdefault(old, index) if old else index
        if first != index:
            raise InvalidInput(
                f"document {index + 1}: replaces the same document as document {first + 1}",
                [{"field": "replaces", "entry": str(index)}],
            )
