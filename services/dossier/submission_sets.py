"""Submission sets (ITI-65's SubmissionSet List, found by ITI-66): pure rules, no I/O. Which of a dossier's sets a
search selects, how they are paged, and what a caller is shown of one: its documents are those the dossier's
read path lets them see (the store's visible documents), and a set none of whose documents they may see is not
shown at all, exactly as if it did not exist."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

from services.common.errors import InvalidInput
from services.common.ids import new_id
from services.common.matching import matches
from services.dossier import documents, queries
from services.dossier.records import ActorRef, Document, SubmissionSet
from services.dossier.schemas import (
    DocumentMetadata,
    PersonName,
    SubmissionSetSearch,
    SubmissionSetSubmission,
    SubmissionSetView,
)

CURSOR = re.compile(r"^(\d{1,15})\.(sub_[0-9a-f]{32})$")


def record_of(
    submission: SubmissionSetSubmission,
    set_id: str,
    dossier_id: str,
    patient_id: str,
    author: ActorRef,
    submitted_at: datetime,
    document_ids: Sequence[str],
    author_name: PersonName | None = None,
    fingerprint: str | None = None,
) -> SubmissionSet:
    """The set to keep: what the service knows of it and what its source says."""
    return SubmissionSet(
        id=set_id,
        dossier_id=dossier_id,
        patient_id=patient_id,
        author=author,
        submitted_at=submitted_at,
        document_ids=tuple(document_ids),
        unique_id=submission.unique_id,
        source_id=submission.source_id,
        title=submission.title,
        designation_type=submission.designation_type,
        intended_recipients=tuple(submission.intended_recipients),
        author_name=author_name,
        fingerprint=fingerprint,
    )


SET_IDS = uuid.UUID("6f1d3c2e-0b7a-5d4e-9c21-3a8f5e7b9d10")  # the namespace of sets' name-based ids


def set_id_of(dossier_id: str, unique_id: str | None) -> str:
    """A set's id: named after its unique id in the dossier when it has one (deposits of the same set at the
    same time then collide on their id, and one is kept), else random."""
    if unique_id is None:
        return new_id("sub")
    return f"sub_{uuid.uuid5(SET_IDS, f'{dossier_id}|{unique_id}').hex}"


def entry_uuid(set_id: str) -> str:
    """The UUID URN of our id (sub_<uuid4 hex>): the List's entryUUID."""
    hexa = set_id.removeprefix("sub_")
    return f"urn:uuid:{hexa[:8]}-{hexa[8:12]}-{hexa[12:16]}-{hexa[16:20]}-{hexa[20:]}"


def selected(submission_set: SubmissionSet, search: SubmissionSetSearch) -> bool:
    """Does the set match every condition of the search (each list an OR, an empty one matching nothing)?"""
    if search.submission_set_id is not None and submission_set.id not in search.submission_set_id:
        return False
    if search.identifier is not None and not {
        submission_set.unique_id,
        entry_uuid(submission_set.id),
    } & set(search.identifier):
        return False
    if search.source_id is not None and submission_set.source_id not in search.source_id:
        return False
    if search.designation_type is not None and not any(
        _coded_as(submission_set, token) for token in search.designation_type
    ):
        return False
    if not all(
        named(submission_set.author_name, part, group)
        for part, groups in (
            ("given", search.source_given),
            ("family", search.source_family),
            ("given_exact", search.source_given_exact),
            ("family_exact", search.source_family_exact),
        )
        for group in groups or []
    ):
        return False
    at = submission_set.submitted_at
    if search.submitted_from is not None and at < search.submitted_from:
        return False
    return not (search.submitted_before is not None and at >= search.submitted_before)


def named(name: PersonName | None, part: str, group: str) -> bool:
    """Does its submitter's name part match any of the group's comma-separated names, as queries.named has it
    for documents (FHIR string search: a prefix, case and accents aside; `_exact`: as registered)? A set kept
    without a name: no."""
    if name is None:
        return False
    return matches({"author_name": queries.name_fields(name)}, queries.named(part, group))


def _coded_as(submission_set: SubmissionSet, token: str) -> bool:
    coded = submission_set.designation_type
    if coded is None:
        return False
    system, bar, code = token.rpartition("|")
    return code == coded.code and (not bar or system == coded.system)


def shown(
    submission_set: SubmissionSet, visible: Mapping[str, Document]
) -> SubmissionSetView | None:
    """The set as this caller sees it, its documents in the order sent; None when they may see none of them."""
    entries: list[DocumentMetadata] = [
        documents.as_answered(visible[document_id])
        for document_id in submission_set.document_ids
        if document_id in visible
    ]
    if not entries:
        return None
    return SubmissionSetView(
        submission_set_id=submission_set.id,
        dossier_id=submission_set.dossier_id,
        patient_id=submission_set.patient_id,
        author=submission_set.author,
        author_name=submission_set.author_name,
        submitted_at=submission_set.submitted_at,
        unique_id=submission_set.unique_id,
        source_id=submission_set.source_id,
        title=submission_set.title,
        designation_type=submission_set.designation_type,
        intended_recipients=list(submission_set.intended_recipients),
        documents=entries,
    )


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _ms(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


def page(
    views: Iterable[SubmissionSetView], limit: int, cursor: str | None
) -> tuple[int, list[SubmissionSetView], str | None]:
    """(how many, the `limit` after `cursor`, newest first, the next page's cursor if any). The cursor is the
    last set's (submitted ms, id), so that sets deposited meanwhile do not shift the pages."""
    ordered = sorted(
        views, key=lambda view: (_ms(view.submitted_at), view.submission_set_id), reverse=True
    )
    after = ordered
    if cursor is not None:
        found = CURSOR.match(cursor)
        if found is None:
            raise InvalidInput.for_field("cursor", "is not a cursor this search gave")
        mark = (int(found[1]), found[2])
        after = [v for v in ordered if (_ms(v.submitted_at), v.submission_set_id) < mark]
    kept = after[:limit]
    more = limit > 0 and len(after) > limit
    last = kept[-1] if kept else None
    following = f"{_ms(last.submitted_at)}.{last.submission_set_id}" if more and last else None
    return len(ordered), kept, following
