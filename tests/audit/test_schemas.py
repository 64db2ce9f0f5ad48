"""audit's answers as models (services/audit/schemas.py): the JSON that goes out is what labels, rules and
checkpoints say, field for field: times as written, the actor as the trace was written, FHIR elements absent
rather than null, each problem of a verification in its own shape."""

import json
from datetime import UTC, datetime, timedelta, timezone

from services.audit import checkpoints, labels, rules
from services.audit.records import Audience, Checkpoint, Head, Trace
from services.audit.schemas import (
    ChainBreak,
    CheckpointReceipt,
    ErasedWhileOpen,
    FhirBundle,
    HistoryAnswer,
    HistoryView,
    TraceView,
    VerifyReport,
)
from services.audit.service import MISMATCH
from services.common.entrypoints import to_wire
from services.common.events import ActorRef, EventType, Outcome

AT = datetime(2026, 12, 2, 9, 30, 12, 345000, tzinfo=UTC)
TRACES = [
    Trace(
        event_id="evt_1",
        type=EventType.DOCUMENT_READ,
        source="dossier",
        occurred_at=AT,
        actor=ActorRef(
            kind="professional", id="rpps:10000000009", profession="10", organisation=None
        ),
        patient_id="pat_1",
        document_id="doc_1",
        rule="R-EMERGENCY",
        emergency=True,
    ),
    Trace(
        event_id="evt_2",
        type=EventType.DOSSIER_OPENED,
        source="dossier",
        occurred_at=AT,
        actor=ActorRef.model_validate({"kind": "patient", "id": "pat_1"}),
        patient_id="pat_1",
    ),
    Trace(
        event_id="evt_3",
        type=EventType.ACCESS_DENIED,
        source="audit",
        outcome=Outcome.DENIED,
        occurred_at=datetime(2026, 12, 2, 10, 30, tzinfo=timezone(timedelta(hours=1))),
    ),
]


def same_json(answer: object, expected: object) -> bool:
    """Equal, keys in the same order too (what a reader of the raw JSON sees)."""
    return json.dumps(to_wire(answer)) == json.dumps(expected)


def test_a_history_goes_out_as_labels_show_it_with_the_actor_as_written_and_times_as_written() -> (
    None
):
    entries = [labels.public(trace, "en") for trace in TRACES]
    answer = HistoryAnswer(
        HistoryView(
            traces=[TraceView.model_validate(entry) for entry in entries],
            total=3,
            next_cursor=None,
            audience=Audience.DOSSIER,
        )
    )
    assert same_json(
        answer, {"traces": entries, "total": 3, "next_cursor": None, "audience": "dossier"}
    )
    assert to_wire(answer)["traces"][1]["actor"] == {"kind": "patient", "id": "pat_1"}


def test_a_fhir_history_goes_out_as_labels_export_it_with_no_null_element() -> None:
    bundle = labels.fhir_bundle(TRACES, 9)
    assert same_json(HistoryAnswer(FhirBundle.model_validate(bundle)), bundle)


def test_a_verification_keeps_each_problems_own_shape() -> None:
    checkpoint = Checkpoint(
        at=AT, heads={"pat_1": Head(3, "a" * 64)}, kid="audit-unit", signature=""
    )
    found = [
        *checkpoints.mismatches(checkpoint, True, {}, lambda name, seq: None),
        *checkpoints.mismatches(checkpoint, False, {}, lambda name, seq: None),
    ]
    erased = rules.erased_while_open(
        {"pat_2": AT}, {"pat_2": {"status": "open", "opened_at": "2026-11-01T00:00:00+00:00"}}
    )
    report = VerifyReport(
        chains=2,
        traces=4,
        intact=False,
        breaks=[
            *(ErasedWhileOpen.model_validate(problem) for problem in erased),
            ChainBreak(chain="pat_1", seq=2, problem="altered"),
        ],
        checkpoint_mismatches=[MISMATCH.validate_python(mismatch) for mismatch in found],
    )
    assert same_json(
        report,
        {
            "chains": 2,
            "traces": 4,
            "breaks": [*erased, {"chain": "pat_1", "seq": 2, "problem": "altered"}],
            "checkpoint_mismatches": found,
            "intact": False,
        },
    )


def test_a_checkpoint_receipt_goes_out_as_checkpoints_word_it() -> None:
    signed = Checkpoint(at=AT, heads={"pat_1": Head(3, "a" * 64)}, kid="audit-unit", signature="")
    assert same_json(
        CheckpointReceipt.model_validate(checkpoints.receipt(signed)), checkpoints.receipt(signed)
    )
