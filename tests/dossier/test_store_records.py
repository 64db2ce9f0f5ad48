"""The store's records and their documents, without a store: what earlier versions wrote still loads, and
answers exactly as it did."""

from datetime import UTC, datetime
from typing import Any

from services.dossier import documents, store
from services.dossier.records import DocumentStatus, Visibility
from services.dossier.schemas import DocumentMetadata, DocumentSubmission

CREATED = datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
EARLIER_DOCUMENT = {  # as stored before revisions, confidentiality and the patient's id were kept
    "_id": "doc_1",
    "dossier_id": "dos_1",
    "category": "31",
    "type_code": "18748-4",
    "title": "Radio",
    "care_date": "2026-03-02",
    "format": "application/pdf",
    "visibility": ["MASQUE_PS"],
    "created_at": CREATED,
    "created_ms": int(CREATED.timestamp() * 1000),
    "size": 12,
    "sha256": "ab",
    "status": "current",
    "replaces": None,
    "replaced_by": None,
    "author": {"kind": "professional", "id": "rpps:10000000009"},
    "imaging_study": {"study_instance_uid": "1.2.3", "viewer_url": "https://pacs.example/1.2.3"},
}


def answered_before(record: dict[str, Any]) -> dict[str, Any]:
    """What the earlier version answered for a stored document (its own conversion, kept here as the oracle)."""
    fields = {
        k: record[k] for k in DocumentMetadata.model_fields if k != "document_id" and k in record
    }
    if record.get("updated_ms"):
        fields["updated_at"] = datetime.fromtimestamp(record["updated_ms"] / 1000, UTC)
    return DocumentMetadata(document_id=record["_id"], **fields).model_dump(mode="json")


def test_a_document_stored_by_an_earlier_version_answers_as_it_did() -> None:
    document = store._document(EARLIER_DOCUMENT)
    assert (
        document.revision is None
        and document.patient_id is None
        and document.metadata.confidentiality == "N"
    )
    assert document.visibility == (Visibility.MASKED,) and document.status is DocumentStatus.CURRENT
    assert documents.answer(document) == answered_before(EARLIER_DOCUMENT)


def test_a_changed_document_answers_its_last_change() -> None:
    changed = {
        **EARLIER_DOCUMENT,
        "revision": 3,
        "updated_ms": 1_780_000_000_123,
        "patient_id": "pat_1",
    }
    assert documents.answer(store._document(changed)) == answered_before(changed)


def test_a_deposit_is_stored_as_its_submission_was() -> None:
    submission = DocumentSubmission.model_validate(
        {
            "category": "11",
            "type_code": "11488-4",
            "title": "CR",
            "care_date": "2026-11-19",
            "format": "text/plain",
            "content": "aGk=",
            "visibility": ["INVISIBLE_PATIENT"],
            "care_start": "2026-11-19T10:00:00+01:00",
            "events": [{"codings": [{"system": "urn:oid:2.16.840.1.113883.6.3", "code": "I10"}]}],
        }
    )
    stored = store._metadata_document(documents.metadata_of(submission, [Visibility.MASKED]))
    assert stored == {
        **submission.model_dump(mode="json", exclude={"content"}),
        "visibility": ["INVISIBLE_PATIENT", "MASQUE_PS"],
    }


def test_a_document_round_trips_through_its_stored_form() -> None:
    document = store._document(
        {
            **EARLIER_DOCUMENT,
            "revision": 1,
            "patient_id": "pat_1",
            "release_ms": 1_780_000_000_000,
            "idempotency": "rpps:1|key-12345",
            "idempotency_fingerprint": "fp",
            "author_name": {"given": "Élodie", "family": "Le Gall"},
        }
    )
    assert store._document(store._document_document(document)) == document
    # Each part is kept with the key a name search compares (queries.name_key), next to the part itself.
    assert store._document_document(document)["author_name"] == {
        "given": "Élodie",
        "family": "Le Gall",
        "given_key": "elodie",
        "family_key": "le gall",
    }


def test_a_dossier_tells_its_stored_lifecycle_names() -> None:
    closed_at, purge_at = datetime(2026, 5, 1, tzinfo=UTC), datetime(2036, 5, 1, tzinfo=UTC)
    stored = {
        "_id": "dos_1",
        "ins": "1850775123456",
        "patient_id": "pat_1",
        "status": "closed",
        "opened_at": CREATED,
        "opened_by": {"kind": "patient", "id": "pat_1"},
        "channel": "patient_online",
        "consent_to_opening": {"given": True, "recorded_by": "pat_1", "at": CREATED},
        "wrapped_key": b"k",
        "master_key": "fp",
        "lifecycle": {"close_at": closed_at, "purge_at": purge_at},
        "purge_after_ms": int(purge_at.timestamp() * 1000),
    }
    dossier = store._dossier(stored)
    assert (dossier.closed_at, dossier.purge_at, dossier.key is not None) == (
        closed_at,
        purge_at,
        True,
    )
    assert store._lifecycle_document(dossier) == stored["lifecycle"]
    assert {
        key: value for key, value in store._dossier_document(dossier).items() if key != "lifecycle"
    } == {key: value for key, value in stored.items() if key not in ("lifecycle", "purge_after_ms")}


def test_stored_milliseconds_read_back_unchanged() -> None:
    for epoch_ms in (0, 1_700_000_000_123, 1_788_000_000_999):
        assert store.ms(store._moment(epoch_ms)) == epoch_ms
