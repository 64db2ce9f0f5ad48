"""The sent-messages journal: what it holds survives the process, a torn last line is skipped, and what
the store has recorded is forgotten."""

from pathlib import Path

from services.notify.journal import SentJournal


def test_the_journal_keeps_what_went_out_until_the_store_has_it(tmp_path: Path) -> None:
    SentJournal(tmp_path).record("evt_1:patient:email", "<evt_1.patient.email@dmp.local>", 1000)
    SentJournal(tmp_path).record("evt_2:patient:sms", "42", 2000)
    with (tmp_path / "sent.jsonl").open("a") as journal:
        journal.write('{"delivery_id": "evt_3:pat')  # died in the middle of an append
    reopened = SentJournal(tmp_path)  # as a restarted notify would
    assert [e["delivery_id"] for e in reopened.entries()] == [
        "evt_1:patient:email",
        "evt_2:patient:sms",
    ]
    reopened.forget({"evt_1:patient:email"})
    assert reopened.entries() == [
        {"delivery_id": "evt_2:patient:sms", "detail": "42", "at_ms": 2000}
    ]
    assert (tmp_path / "sent.jsonl").read_text().count("\n") == 1  # the torn line went too
    assert SentJournal(tmp_path / "never-written").entries() == []
