"""The dossier's answers as models (services/dossier/schemas.py) go out as the JSON the methods answered before
they were typed: instants as isoformat() writes them, moments that did not happen absent; and a deposit's
idempotency fingerprint is still that of the body sent."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from services.dossier import documents, rules, summary
from services.dossier.records import Document
from services.dossier.schemas import (
    Access,
    CareSummaryAnswer,
    DocumentAdded,
    DocumentSubmission,
    Lifecycle,
    PurgeRecordView,
    Transitioned,
)
from services.dossier.summary import AllergyEntry, Severity
from tests.dossier.test_summary_rules import TODAY, doc, drug, item
from tests.journeys import submission

NOW = datetime(2026, 11, 20, 10, 0, 0, 123456, tzinfo=UTC)


def test_the_fingerprint_of_a_typed_deposit_is_that_of_the_body_sent() -> None:
    for body in (
        submission(),
        DocumentSubmission.model_validate(submission()).model_dump(mode="json"),
        submission(visibility=[], imaging_study=None),
    ):
        sent = documents.as_sent(DocumentSubmission.model_validate(body))
        assert rules.request_fingerprint("1", sent) == rules.request_fingerprint("1", body)


def test_instants_are_written_as_isoformat_and_moments_not_had_are_absent() -> None:
    assert Lifecycle(
        dossier_id="dos_1",
        status="closed",
        opened_at=NOW,
        closed_at=NOW,
        purge_at=NOW + timedelta(days=1),
    ).model_dump(mode="json") == {
        "dossier_id": "dos_1",
        "status": "closed",
        "opened_at": NOW.isoformat(),
        "closed_at": NOW.isoformat(),
        "purge_at": (NOW + timedelta(days=1)).isoformat(),
    }
    assert Transitioned(dossier_id="dos_1", status="open").model_dump(mode="json") == {
        "dossier_id": "dos_1",
        "status": "open",
    }
    assert PurgeRecordView(purged=False, patient_id=None).model_dump(mode="json") == {
        "purged": False,
        "patient_id": None,
    }
    assert Access(rule="R-1", emergency=True, expires_at=NOW).model_dump(mode="json") == {
        "rule": "R-1",
        "emergency": True,
        "expires_at": "2026-11-20T10:00:00.123456+00:00",
    }
    assert Access(rule="R-1", emergency=False).model_dump(mode="json")["expires_at"] is None


def test_replayed_is_said_only_of_a_replay() -> None:
    document = documents.as_answered(_document())
    assert "replayed" not in DocumentAdded.of(document).model_dump(mode="json")
    assert DocumentAdded.of(document, replayed=True).model_dump(mode="json") == {
        **documents.answer(_document()),
        "replayed": True,
    }


def test_the_care_summary_goes_out_as_summarised() -> None:
    care = summary.summarise(
        TODAY,
        feed=[
            drug("3400930000001", date(2026, 1, 1), atc="C10AA05"),
            item("NABM", "1577", date(2026, 1, 1)),
            item("NABM", "1577", date(2026, 1, 5)),
        ],
        documents=[doc("doc_1", "10", TODAY, NOW)],
        allergies=(AllergyEntry("Latex", None, Severity.MILD),),
        withheld=(),
    )
    access = Access(rule="R-1", emergency=True, expires_at=NOW)
    assert CareSummaryAnswer.model_validate({**summary.to_json(care), "access": access}).model_dump(
        mode="json"
    ) == {**summary.to_json(care), "access": access.model_dump(mode="json")}


def _document() -> Document:
    metadata = documents.metadata_of(DocumentSubmission.model_validate(submission()))
    return Document(
        id="doc_1",
        dossier_id="dos_1",
        patient_id="pat_1",
        metadata=metadata,
        author={"kind": "professional", "id": "rpps:1"},
        created_at=NOW,
        size=3,
        sha256="00",
    )
