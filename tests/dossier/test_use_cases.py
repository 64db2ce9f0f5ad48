"""Every use case of the dossier service in the fast tier: its entrypoints called as the bus calls them
(JSON-shaped arguments, real signed tokens), over the in-memory store, a clock the test sets and a fake
consent. Each asserts what a caller notices: the answer, the refusal and the field it names, the events the
writes publish, what a later read shows."""

from __future__ import annotations

import base64
import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from nameko.testing.services import worker_factory

from services.common.actors import Actor, ActorKind
from services.common.clock import utcnow
from services.common.errors import (
    AccessDenied,
    Conflict,
    DmpError,
    InvalidInput,
    NotFound,
    ServiceUnavailable,
)
from services.common.events import Event, EventType
from services.common.settings import Secret, Settings
from services.common.tokens import issue
from services.dossier.memory import MemoryDossierStore
from services.dossier.records import Document, DocumentStatus, SubmissionSet
from services.dossier.service import DossierService
from tests.clocks import SettableClock
from tests.dossier.fakes import FakeConsent
from tests.identities import make_ins, make_rpps
from tests.live_settings import live_settings

RANDOM = random.Random(20)
INS, OTHER_INS = make_ins(RANDOM), make_ins(RANDOM)
NOTE = base64.b64encode(b"compte rendu").decode()


def master_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


@pytest.fixture(autouse=True)
def keys(secrets: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DMP_TOKEN_SIGNING_KEY", "DMP_TOKEN_PUBLIC_KEYS", "DMP_MASTER_KEY"):
        monkeypatch.setenv(name, secrets[name])
    monkeypatch.delenv("DMP_PREVIOUS_MASTER_KEYS", raising=False)


def token(actor: Actor) -> str:
    return issue(
        actor, Settings.load().signing_key(Secret.TOKEN_SIGNING_KEY), Settings.load(), utcnow()
    )


def professional(
    profession: str = "10",
    organisation: str | None = None,
    given_name: str | None = None,
    family_name: str | None = None,
) -> Actor:
    rpps = make_rpps(RANDOM)
    return Actor(
        kind=ActorKind.PROFESSIONAL,
        id=f"rpps:{rpps}",
        rpps=rpps,
        profession=profession,
        organisation=organisation,
        given_name=given_name,
        family_name=family_name,
    )


PATIENT = Actor(kind=ActorKind.PATIENT, id="pat_1", ins=INS)
OTHER_PATIENT = Actor(kind=ActorKind.PATIENT, id="pat_2", ins=OTHER_INS)
FEED = Actor(kind=ActorKind.SYSTEM, id="system:cnam-feed")


@dataclass
class Dossiers:
    """The service as the bus runs it: a new worker per call, sharing the store, consent and clock; an error
    answered on purpose is told to the service first, as the entrypoint does (the refusal's trace)."""

    store: MemoryDossierStore
    consent: FakeConsent
    clock: SettableClock

    def __getattr__(self, method: str) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            worker = worker_factory(
                DossierService,
                settings=live_settings(),
                store=self.store,
                consent=self.consent,
                clock=self.clock,
            )
            try:
                return getattr(worker, method)(*args, **kwargs)
            except DmpError as error:
                worker.refused(error)
                raise

        return call

    def published(self, *kinds: EventType) -> list[EventType]:
        """The types of the events published so far (of `kinds` only, when given), in order."""
        return [e.type for e in self.store.events if not kinds or e.type in kinds]


@pytest.fixture
def dossiers() -> Dossiers:
    consent = FakeConsent(patients={INS: "pat_1", OTHER_INS: "pat_2"})
    return Dossiers(MemoryDossierStore(), consent, SettableClock())


@pytest.fixture
def doctor() -> Actor:
    return professional()


@pytest.fixture
def opened(dossiers: Dossiers) -> dict[str, Any]:
    answer: dict[str, Any] = dossiers.open(token(PATIENT), {"ins": INS})
    return answer


def submission(title: str = "CR", **fields: Any) -> dict[str, Any]:
    return {
        "category": "11",
        "type_code": "11488-4",
        "title": title,
        "care_date": "2026-11-19",
        "format": "text/plain",
        "content": base64.b64encode(title.encode()).decode(),
        **fields,
    }


def deposit(dossiers: Dossiers, author: Actor, **fields: Any) -> dict[str, Any]:
    added: dict[str, Any] = dossiers.add_document(token(author), INS, submission(**fields))
    return added


def refusal(error: pytest.ExceptionInfo[DmpError]) -> list[dict[str, str]]:
    return error.value.details


# Opening


def test_the_patient_opens_their_dossier_once(dossiers: Dossiers) -> None:
    answer = dossiers.open(token(PATIENT), {"ins": INS})
    assert (answer["status"], answer["channel"]) == ("open", "patient_online")
    assert dossiers.published() == [EventType.DOSSIER_OPENED]
    with pytest.raises(Conflict) as again:
        dossiers.open(token(PATIENT), {"ins": INS})
    assert refusal(again) == [{"state": "open"}]


def test_an_opening_names_the_bad_field(dossiers: Dossiers, doctor: Actor) -> None:
    with pytest.raises(InvalidInput) as malformed:
        dossiers.open(token(PATIENT), {"ins": "123"})
    assert [d["field"] for d in refusal(malformed)] == ["ins"]
    with pytest.raises(InvalidInput) as unknown:
        dossiers.open(token(PATIENT), {"ins": INS, "colour": "blue"})
    assert refusal(unknown)[0]["field"] == "colour"
    with pytest.raises(InvalidInput) as no_consent:
        dossiers.open(token(doctor), {"ins": INS})
    assert refusal(no_consent)[0]["field"] == "patient_consent"
    with pytest.raises(AccessDenied) as other:
        dossiers.open(token(OTHER_PATIENT), {"ins": INS})
    assert refusal(other) == [{"rule": "R-OTHER-PATIENT"}]
    assert dossiers.published() == [EventType.ACCESS_DENIED]  # the refusal, traced
    assert dossiers.store.dossier_by_ins(INS) is None


def test_a_pharmacy_is_paid_once_for_opening_a_dossier(dossiers: Dossiers) -> None:
    pharmacist = professional("21", "750000001")
    opened = dossiers.open(token(pharmacist), {"ins": INS, "patient_consent": True})
    assert opened["channel"] == "pharmacy"
    month = dossiers.clock.now().strftime("%Y-%m")
    fees = dossiers.pharmacy_fees(month)
    assert [(f["organisation"], f["pharmacist_id"], f["dossier_id"]) for f in fees] == [
        ("750000001", pharmacist.id, opened["dossier_id"])
    ]
    with pytest.raises(InvalidInput) as bad_month:
        dossiers.pharmacy_fees("2026-13")
    assert refusal(bad_month)[0]["field"] == "month"


# The lifecycle


def test_status_is_for_the_patients_side(dossiers: Dossiers, opened: dict[str, Any]) -> None:
    status = dossiers.status(token(PATIENT), INS)
    assert (status["dossier_id"], status["status"]) == (opened["dossier_id"], "open")
    with pytest.raises(AccessDenied) as other:
        dossiers.status(token(OTHER_PATIENT), INS)
    assert refusal(other) == [{"rule": "R-OTHER-PATIENT"}]
    assert dossiers.published()[-1] is EventType.ACCESS_DENIED


def test_a_closed_dossier_keeps_its_content_from_everyone_until_reopened(
    dossiers: Dossiers, opened: dict[str, Any], doctor: Actor
) -> None:
    added = deposit(dossiers, doctor)
    closed = dossiers.close(token(PATIENT), INS)
    assert closed["status"] == "closed" and closed["purge_at"]
    with pytest.raises(AccessDenied) as refused:
        dossiers.read_document(token(doctor), INS, added["document_id"])
    assert refusal(refused) == [{"rule": "R-DOSSIER-CLOSED"}]
    with pytest.raises(Conflict) as twice:
        dossiers.close(token(PATIENT), INS)
    assert refusal(twice) == [{"state": "closed"}]
    assert dossiers.reopen(token(PATIENT), INS) == {
        "dossier_id": opened["dossier_id"],
        "status": "open",
    }
    read = dossiers.read_document(token(doctor), INS, added["document_id"])
    assert base64.b64decode(read["content"]) == b"CR"
    with pytest.raises(Conflict):
        dossiers.reopen(token(PATIENT), INS)
    kinds = (EventType.DOSSIER_CLOSED, EventType.DOSSIER_REOPENED)
    assert dossiers.published(*kinds) == list(kinds)


def test_deletion_on_request_makes_the_content_unreadable_then_the_dossier_is_purged(
    dossiers: Dossiers, opened: dict[str, Any], doctor: Actor
) -> None:
    deposit(dossiers, doctor)
    asked = dossiers.request_deletion(token(PATIENT), INS)
    assert asked["status"] == "deletion_requested"
    assert dossiers.store.dossier_by_ins(INS).key is None  # type: ignore[union-attr]
    with pytest.raises(Conflict):
        dossiers.request_deletion(token(PATIENT), INS)
    with pytest.raises(AccessDenied) as manager:
        dossiers.request_deletion(token(OTHER_PATIENT), INS)
    assert refusal(manager) == [{"rule": "R-OTHER-PATIENT"}]
    assert dossiers.purge_due() == {"purged": 0}  # not due yet
    dossiers.clock.advance(timedelta(days=91))
    assert dossiers.purge_due() == {"purged": 1}
    assert dossiers.purge_due() == {"purged": 0}
    record = dossiers.purge_record(opened["dossier_id"])
    assert (record["purged"], record["patient_id"]) == (True, "pat_1")
    assert dossiers.store.dossier_by_ins(INS) is None and dossiers.store.documents == {}
    assert dossiers.published(EventType.DOSSIER_PURGED) == [EventType.DOSSIER_PURGED]


def test_a_purge_record_is_told_only_of_a_purged_dossier(
    dossiers: Dossiers, opened: dict[str, Any]
) -> None:
    assert dossiers.purge_record(opened["dossier_id"]) == {"purged": False, "patient_id": None}
    with pytest.raises(InvalidInput) as empty:
        dossiers.purge_record("")
    assert refusal(empty)[0]["field"] == "dossier_id"


def test_audit_learns_the_dossiers_of_patients(dossiers: Dossiers, opened: dict[str, Any]) -> None:
    answer = dossiers.dossiers_of(["pat_1", "pat_unknown"])
    assert answer == {"pat_1": {"status": "open", "opened_at": opened["opened_at"]}}
    for bad in ("pat_1", ["pat"] * 501, [1]):
        with pytest.raises(InvalidInput) as refused:
            dossiers.dossiers_of(bad)
        assert refusal(refused)[0]["field"].partition(".")[0] == "patient_ids"  # or the item in it


def test_keys_are_rewrapped_under_a_new_master_key_and_content_still_reads(
    dossiers: Dossiers,
    opened: dict[str, Any],
    doctor: Actor,
    secrets: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    added = deposit(dossiers, doctor)
    assert dossiers.rewrap_keys() == {"rewrapped": 0, "remaining": 0}  # already under it
    with pytest.raises(InvalidInput) as refused:
        dossiers.rewrap_keys("abc")
    assert refusal(refused)[0]["field"] == "limit"
    monkeypatch.setenv("DMP_MASTER_KEY", master_key())
    monkeypatch.setenv("DMP_PREVIOUS_MASTER_KEYS", secrets["DMP_MASTER_KEY"])
    assert dossiers.rewrap_keys(500) == {"rewrapped": 1, "remaining": 0}
    read = dossiers.read_document(token(doctor), INS, added["document_id"])
    assert base64.b64decode(read["content"]) == b"CR"
    assert dossiers.published(EventType.DOSSIER_KEY_REWRAPPED) == [EventType.DOSSIER_KEY_REWRAPPED]


# Documents


def test_a_deposit_is_read_back_and_an_identical_one_refused(
    dossiers: Dossiers, opened: dict[str, Any], doctor: Actor
) -> None:
    added = deposit(dossiers, doctor, title="Compte rendu")
    assert (added["title"], added["status"], added["revision"]) == ("Compte rendu", "current", 1)
    read = dossiers.read_document(token(PATIENT), INS, added["document_id"])
    assert read["document"] == {k: v for k, v in added.items() if k != "replayed"}
    assert base64.b64decode(read["content"]) == b"Compte rendu"
    with pytest.raises(Conflict) as same:
        deposit(dossiers, doctor, title="Compte rendu")
    assert refusal(same) == [{"field": "content"}]
    assert dossiers.published(EventType.DOCUMENT_ADDED, EventType.DOCUMENT_READ) == [
        EventType.DOCUMENT_ADDED,
        EventType.DOCUMENT_READ,
    ]


def test_a_deposit_names_its_bad_field_and_stores_nothing(
    dossiers: Dossiers, opened: dict[str, Any], doctor: Actor
) -> None:
    for field, value in (("category", "99"), ("care_date", "yesterday"), ("content", "!!")):
        with pytest.raises(InvalidInput) as bad:
            deposit(dossiers, doctor, **{field: value})
        assert refusal(bad)[0]["field"] == field
    with pytest.raises(InvalidInput) as invisible:
        deposit(dossiers, PATIENT, visibility=["INVISIBLE_PATIENT"])
    assert refusal(invisible)[0]["field"] == "visibility"
    assert dossiers.store.documents == {} and dossiers.store.contents == {}


def test_a_retried_deposit_answers_the_first_one(
    dossiers: Dossiers, opened: dict[str, Any], doctor: Actor
) -> None:
    first = dossiers.add_document(token(doctor), INS, submission(), "key-0001")
    again = dossiers.add_document(token(doctor), INS, submission(), "key-0001")
    assert again["replayed"] is True and again["document_id"] == first["document_id"]
    assert len(dossiers.store.documents) == 1
    with pytest.raises(Conflict) as other:
        dossiers.add_document(token(doctor), INS, submission("Autre"), "key-0001")
    assert refusal(other) == [{"field": "Idempotency-Key"}]
    with pytest.raises(InvalidInput) as bad_key:
        dossiers.add_document(token(doctor), INS, submission(), "k")
    assert refusal(bad_key)[0]["field"] == "Idempotency-Key"


def test_documents_deposited_together_are_all_checked_first(
    dossiers: Dossiers, opened: dict[str, Any], doctor: Actor
) -> None:
    stored = dossiers.add_documents(token(doctor), INS, [submission("A"), submission("B")])
    assert [d["title"] for d in stored] == ["A", "B"]
    with pytest.raises(InvalidInput) as second_bad:
        dossiers.add_documents(token(doctor), INS, [submission("C"), submission(category="99")])
    assert refusal(second_bad)[0]["entry"] == "1" and refusal(second_bad)[0]["field"] == "category"
    with pytest.raises(InvalidInput) as none:
        dossiers.add_documents(token(doctor), INS, [])
    assert refusal(none)[0]["field"] == "documents"
    assert len(dossiers.store.documents) == 2  # nothing of the refused set


class FailingStore(MemoryDossierStore):
    """The store going down mid-deposit: the write named by `failing` fails once, after `after` such writes."""

    def __init__(self) -> None:
        super().__init__()
        self.failing: str | None = None
        self.after = 0

    def _maybe_fail(self, write: str) -> None:
        if self.failing == write:
            if self.after == 0:
                self.failing = None
                raise ServiceUnavailable("the record store is unavailable")
            self.after -= 1

    def add_document(self, document: Document, event: Event) -> None:
        self._maybe_fail("add_document")
        super().add_document(document, event)

    def release_deposit(self, dossier_id: str, deposit_id: str) -> None:
        self._maybe_fail("release_deposit")
        super().release_deposit(dossier_id, deposit_id)

    def revise_document(
        self,
        before: Document,
        after: Document,
        event: Event,
        at: datetime,
        expected: int | None = None,
    ) -> Document | None:
        self._maybe_fail("revise_document")
        return super().revise_document(before, after, event, at, expected)


class BusyStore(FailingStore):
    """Another request arriving in the middle of one: `meanwhile[write]` runs once, just before that write;
    `silent`: an attempt that fails cannot say so (the store gone, or the process killed)."""

    def __init__(self) -> None:
        super().__init__()
        self.meanwhile: dict[str, Callable[[], None]] = {}
        self.silent = False

    def _before(self, write: str) -> None:
        arriving = self.meanwhile.pop(write, None)
        if arriving is not None:
            arriving()

    def add_submission_set(self, submission_set: SubmissionSet) -> bool:
        self._before("add_submission_set")
        return super().add_submission_set(submission_set)

    def add_document(self, document: Document, event: Event) -> None:
        self._before("add_document")
        super().add_document(document, event)

    def interrupt_deposit(self, dossier_id: str, set_id: str) -> None:
        if self.silent:
            raise ServiceUnavailable("the record store is unavailable")
        super().interrupt_deposit(dossier_id, set_id)


SET = {"unique_id": "urn:oid:1.2.250.1.999.65.1", "source_id": "urn:oid:1.2.250.1.999.65"}


@pytest.mark.parametrize(
    ("failing", "after"),
    [
        ("add_document", 1),  # the set and the first document written, the second not
        ("release_deposit", 0),  # every document written, none released
    ],
)
def test_an_iti65_deposit_cut_short_shows_nothing_and_its_retry_completes_it_once(
    doctor: Actor, failing: str, after: int
) -> None:
    store = FailingStore()
    dossiers = Dossiers(
        store, FakeConsent(patients={INS: "pat_1", OTHER_INS: "pat_2"}), SettableClock()
    )
    dossiers.open(token(PATIENT), {"ins": INS})
    together = [submission("A"), submission("B")]
    store.failing, store.after = failing, after
    with pytest.raises(ServiceUnavailable):
        dossiers.add_submission_set(token(doctor), INS, SET, together)
    for reader in (doctor, PATIENT):  # nothing of it, to anyone, by any read
        assert dossiers.search(token(reader), INS)["total"] == 0
        assert dossiers.search_submission_sets(token(reader), INS)["total"] == 0
    assert EventType.DOCUMENT_ADDED not in dossiers.published()  # nobody was told of it
    retried = dossiers.add_submission_set(token(doctor), INS, SET, together)
    assert [d["title"] for d in retried["documents"]] == ["A", "B"]
    assert dossiers.search(token(PATIENT), INS)["total"] == 2
    [kept] = dossiers.search_submission_sets(token(PATIENT), INS)["submission_sets"]
    assert kept["submission_set_id"] == retried["submission_set_id"]
    assert [d["document_id"] for d in kept["documents"]] == [
        d["document_id"] for d in retried["documents"]
    ]
    assert dossiers.published(EventType.DOCUMENT_ADDED) == [EventType.DOCUMENT_ADDED] * 2
    again = dossiers.add_submission_set(
        token(doctor), INS, SET, together
    )  # its answer lost, retried
    assert again == retried and dossiers.search(token(PATIENT), INS)["total"] == 2
    assert len(store.sets) == 1 and len(store.documents) == 2
    with pytest.raises(Conflict) as other:  # the same unique id for another deposit: refused
        dossiers.add_submission_set(token(doctor), INS, SET, [submission("C")])
    assert refusal(other) == [{"field": "submission_set.unique_id"}]


def busy_dossiers() -> tuple[BusyStore, SettableClock, Dossiers]:
    store, clock = BusyStore(), SettableClock()
    dossiers = Dossiers(store, FakeConsent(patients={INS: "pat_1", OTHER_INS: "pat_2"}), clock)
    dossiers.open(token(PATIENT), {"ins": INS})
    return store, clock, dossiers


def test_a_retry_of_a_deposit_still_under_way_waits_and_changes_nothing(doctor: Actor) -> None:
    """A vendor's retry sent while the first request is still writing (its client timed out): told to retry
    shortly, it neither writes the documents nor discards what the first is uploading, and the first
    completes (before: the retry wrote them, and the first failed on its own documents)."""
    store, _, dossiers = busy_dossiers()
    together = [submission("A"), submission("B")]
    told: list[list[dict[str, str]]] = []

    def retry() -> None:
        with pytest.raises(Conflict, match="in progress") as busy:
            dossiers.add_submission_set(token(doctor), INS, SET, together)
        told.append(refusal(busy))

    store.meanwhile["add_document"] = retry
    first = dossiers.add_submission_set(token(doctor), INS, SET, together)
    assert told == [[{"field": "submission_set.unique_id"}, {"retry_after": "1"}]]
    assert [d["title"] for d in first["documents"]] == ["A", "B"]
    assert len(store.sets) == 1 and len(store.documents) == 2
    assert all(store.contents.get(d["document_id"]) for d in first["documents"])
    assert dossiers.published(EventType.DOCUMENT_ADDED) == [EventType.DOCUMENT_ADDED] * 2
    assert dossiers.add_submission_set(token(doctor), INS, SET, together) == first  # done: answered


def test_the_same_set_deposited_twice_at_the_same_moment_is_kept_once(doctor: Actor) -> None:
    """Both requests find no set of that unique id; the one whose set is written second answers the other's
    deposit (before: both were kept, every document twice)."""
    store, _, dossiers = busy_dossiers()
    together = [submission("A"), submission("B")]
    other: list[dict[str, Any]] = []
    store.meanwhile["add_submission_set"] = lambda: other.append(
        dossiers.add_submission_set(token(doctor), INS, SET, together)
    )
    first = dossiers.add_submission_set(token(doctor), INS, SET, together)
    assert [first] == other
    assert len(store.sets) == 1 and len(store.documents) == 2
    assert dossiers.search(token(PATIENT), INS)["total"] == 2


def test_a_deposit_whose_attempt_died_silently_is_completed_once_its_claim_ran_out(
    doctor: Actor,
) -> None:
    store, clock, dossiers = busy_dossiers()
    together = [submission("A"), submission("B")]
    store.failing, store.after, store.silent = "add_document", 1, True
    with pytest.raises(ServiceUnavailable):
        dossiers.add_submission_set(token(doctor), INS, SET, together)
    with pytest.raises(Conflict, match="in progress"):  # it may still be writing, for all we know
        dossiers.add_submission_set(token(doctor), INS, SET, together)
    clock.advance(timedelta(seconds=61))  # DMP_IDEMPOTENCY_CLAIM_SECONDS
    retried = dossiers.add_submission_set(token(doctor), INS, SET, together)
    assert [d["title"] for d in retried["documents"]] == ["A", "B"]
    assert len(store.sets) == 1 and len(store.documents) == 2
    assert dossiers.search(token(PATIENT), INS)["total"] == 2


def test_a_submission_set_is_found_by_its_id_only_by_who_may_see_a_document_of_it(
    dossiers: Dossiers, opened: dict[str, Any], doctor: Actor
) -> None:
    added = dossiers.add_submission_set(token(doctor), INS, SET, [submission("A")])
    set_id = added["submission_set_id"]
    found = dossiers.find_submission_set(token(PATIENT), set_id)
    assert found["ins"] == INS
    assert [d["document_id"] for d in found["submission_set"]["documents"]] == [
        added["documents"][0]["document_id"]
    ]
    assert EventType.DOCUMENTS_LISTED in dossiers.published()
    with pytest.raises(NotFound) as unknown:
        dossiers.find_submission_set(token(PATIENT), "sub_" + "0" * 32)
    with pytest.raises(
        NotFound
    ) as another_patients:  # the other patient's own dossier is not this one
        dossiers.find_submission_set(token(OTHER_PATIENT), set_id)
    dossiers.set_visibility(
        token(PATIENT), INS, added["documents"][0]["document_id"], {"masked": True}
    )
    with pytest.raises(
        NotFound
    ) as all_masked:  # none of its documents visible to them: no set either
        dossiers.find_submission_set(token(professional()), set_id)
    answers = {(e.value.message, str(refusal(e))) for e in (unknown, another_patients, all_masked)}
    assert len(answers) == 1  # each answers exactly like an unknown id
    assert dossiers.find_submission_set(token(doctor), set_id)["ins"] == INS  # its author still


def cut_short(doctor: Actor) -> tuple[FailingStore, SettableClock, Dossiers]:
    """An open dossier and the ITI-65 deposit of documents A and B cut short: A written, B not."""
    store, clock = FailingStore(), SettableClock()
    dossiers = Dossiers(store, FakeConsent(patients={INS: "pat_1", OTHER_INS: "pat_2"}), clock)
    dossiers.open(token(PATIENT), {"ins": INS})
    store.failing, store.after = "add_document", 1
    with pytest.raises(ServiceUnavailable):
        dossiers.add_submission_set(token(doctor), INS, SET, [submission("A"), submission("B")])
    store.failing = ""
    return store, clock, dossiers


def test_a_deposit_cut_short_and_never_retried_is_discarded_after_a_day_and_may_be_made_anew(
    doctor: Actor,
) -> None:
    store, clock, dossiers = cut_short(doctor)
    together = [submission("A"), submission("B")]
    assert dossiers.discard_abandoned_deposits() == {
        "deposits": 0,
        "documents": 0,
    }  # retry time left
    clock.advance(timedelta(hours=25))
    assert dossiers.discard_abandoned_deposits() == {"deposits": 1, "documents": 1}
    assert store.documents == {} and store.contents == {} and store.sets == {}
    assert dossiers.discard_abandoned_deposits() == {"deposits": 0, "documents": 0}
    again = dossiers.add_submission_set(
        token(doctor), INS, SET, together
    )  # its unique id free again
    assert dossiers.search(token(PATIENT), INS)["total"] == 2
    [kept] = dossiers.search_submission_sets(token(PATIENT), INS)["submission_sets"]
    assert kept["submission_set_id"] == again["submission_set_id"]
    assert dossiers.published(EventType.DOCUMENT_ADDED) == [EventType.DOCUMENT_ADDED] * 2


def test_documents_deposited_together_without_a_set_and_cut_short_leave_nothing_after_a_day(
    doctor: Actor,
) -> None:
    store, clock = FailingStore(), SettableClock()
    dossiers = Dossiers(store, FakeConsent(patients={INS: "pat_1", OTHER_INS: "pat_2"}), clock)
    dossiers.open(token(PATIENT), {"ins": INS})
    store.failing, store.after = (
        "add_document",
        1,
    )  # the second's content uploaded, its record not written
    with pytest.raises(ServiceUnavailable):
        dossiers.add_documents(token(doctor), INS, [submission("A"), submission("B")])
    assert len(store.contents) == 2 and dossiers.search(token(PATIENT), INS)["total"] == 0
    clock.advance(timedelta(hours=25))
    assert dossiers.discard_abandoned_deposits() == {"deposits": 1, "documents": 1}
    assert store.documents == {} and store.contents == {} and store.deposits == {}


def test_a_retry_too_late_to_complete_a_deposit_makes_it_anew_rather_than_half(
    doctor: Actor,
) -> None:
    """Past the retry window (23 h) and before the hourly job discards it (24 h): the retry discards what the
    first attempt left and deposits afresh, so the job can never take half of a deposit being completed."""
    store, clock, dossiers = cut_short(doctor)
    together = [submission("A"), submission("B")]
    [left] = store.documents
    clock.advance(timedelta(hours=23, minutes=30))
    retried = dossiers.add_submission_set(token(doctor), INS, SET, together)
    assert left not in store.documents and len(store.documents) == len(store.sets) * 2 == 2
    assert retried["submission_set_id"] in store.sets
    clock.advance(timedelta(hours=1))
    assert dossiers.discard_abandoned_deposits() == {"deposits": 0, "documents": 0}
    assert dossiers.search(token(PATIENT), INS)["total"] == 2


def test_an_iti65_replacement_cut_short_is_superseded_by_its_retry(doctor: Actor) -> None:
    """Released, the new version is everyone's; the old one is superseded after, so a failure there leaves both
    current until the retry supersedes it (once)."""
    store = FailingStore()
    dossiers = Dossiers(
        store, FakeConsent(patients={INS: "pat_1", OTHER_INS: "pat_2"}), SettableClock()
    )
    dossiers.open(token(PATIENT), {"ins": INS})
    old = deposit(dossiers, doctor, title="v1")
    store.failing = "revise_document"
    with pytest.raises(ServiceUnavailable):
        dossiers.add_submission_set(
            token(doctor), INS, SET, [submission("v2")], [old["document_id"]]
        )
    retried = dossiers.add_submission_set(
        token(doctor), INS, SET, [submission("v2")], [old["document_id"]]
    )
    [new] = retried["documents"]
    assert new["replaces"] == old["document_id"]
    assert [d["title"] for d in dossiers.search(token(PATIENT), INS)["documents"]] == ["v2"]
    assert dossiers.published(EventType.DOCUMENT_REPLACED) == [EventType.DOCUMENT_REPLACED]
    assert (
        dossiers.add_submission_set(
            token(doctor), INS, SET, [submission("v2")], [old["document_id"]]
        )
        == retried
    )


def test_only_its_author_replaces_a_document(
    dossiers: Dossiers, opened: dict[str, Any], doctor: Actor
) -> None:
    old = deposit(dossiers, doctor, title="v1")
    new = dossiers.replace_document(token(doctor), INS, old["document_id"], submission("v2"))
    assert new["replaces"] == old["document_id"]
    page = dossiers.search(token(PATIENT), INS, {"status": ["replaced"]})
    assert [(d["document_id"], d["replaced_by"]) for d in page["documents"]] == [
        (old["document_id"], new["document_id"])
    ]
    with pytest.raises(AccessDenied) as not_author:
        dossiers.replace_document(token(professional()), INS, new["document_id"], submission("v3"))
    assert refusal(not_author) == [{"rule": "R-AUTHOR-ONLY"}]
    with pytest.raises(InvalidInput) as bad:
        dossiers.replace_document(token(doctor), INS, new["document_id"], {"title": "v3"})
    assert "category" in [d["field"] for d in refusal(bad)]


def test_archiving_takes_a_document_out_of_the_default_list_and_back(
    dossiers: Dossiers, opened: dict[str, Any], doctor: Actor
) -> None:
    added = deposit(dossiers, doctor)
    archived = dossiers.archive_document(token(PATIENT), INS, added["document_id"])
    assert (archived["status"], archived["revision"]) == ("archived", 2)
    assert dossiers.search(token(PATIENT), INS)["total"] == 0
    with pytest.raises(Conflict) as twice:
        dossiers.archive_document(token(PATIENT), INS, added["document_id"])
    assert refusal(twice) == [{"state": "archived"}]
    back = dossiers.archive_document(token(PATIENT), INS, added["document_id"], False)
    assert back["status"] == "current" and dossiers.search(token(PATIENT), INS)["total"] == 1


def test_a_deleted_document_answers_like_one_that_never_was(
    dossiers: Dossiers, opened: dict[str, Any], doctor: Actor
) -> None:
    added = deposit(dossiers, doctor)
    with pytest.raises(AccessDenied) as not_author:
        dossiers.delete_document(token(PATIENT), INS, added["document_id"])
    assert refusal(not_author) == [{"rule": "R-AUTHOR-ONLY"}]
    deleted = dossiers.delete_document(token(doctor), INS, added["document_id"])
    assert deleted["status"] == DocumentStatus.DELETED.value
    assert dossiers.store.content(added["document_id"]) is None
    with pytest.raises(NotFound) as gone:
        dossiers.read_document(token(doctor), INS, added["document_id"])
    with pytest.raises(NotFound) as never:
        dossiers.read_document(token(doctor), INS, "doc_" + "0" * 32)
    assert (gone.value.message, refusal(gone)) == (never.value.message, refusal(never))


def test_a_masked_document_is_hidden_from_other_professionals_as_if_absent(
    dossiers: Dossiers, opened: dict[str, Any], doctor: Actor
) -> None:
    added = deposit(dossiers, doctor)
    other = professional()
    masked = dossiers.set_visibility(token(PATIENT), INS, added["document_id"], {"masked": True})
    assert masked["visibility"] == ["MASQUE_PS"]
    with pytest.raises(NotFound) as hidden:
        dossiers.read_document(token(other), INS, added["document_id"])
    assert refusal(hidden) == [{"field": "document_id"}]
    assert dossiers.search(token(other), INS)["total"] == 0
    assert dossiers.search(token(doctor), INS)["total"] == 1  # its author still sees it
    with pytest.raises(InvalidInput) as bad:
        dossiers.set_visibility(token(PATIENT), INS, added["document_id"], {"masked": "maybe"})
    assert refusal(bad)[0]["field"] == "masked"
    with pytest.raises(AccessDenied):
        dossiers.set_visibility(token(doctor), INS, added["document_id"], {"masked": False})
    kinds = dossiers.published(EventType.DOCUMENT_MASKED, EventType.ACCESS_DENIED)
    assert kinds[0] is EventType.DOCUMENT_MASKED and EventType.ACCESS_DENIED in kinds


def test_a_document_invisible_to_the_patient_is_released_by_its_author(
    dossiers: Dossiers, opened: dict[str, Any], doctor: Actor
) -> None:
    added = deposit(dossiers, doctor, visibility=["INVISIBLE_PATIENT"])
    assert dossiers.search(token(PATIENT), INS)["total"] == 0
    with pytest.raises(AccessDenied) as not_author:
        dossiers.release_document(token(professional()), INS, added["document_id"])
    assert refusal(not_author) == [{"rule": "R-AUTHOR-ONLY"}]
    released = dossiers.release_document(token(doctor), INS, added["document_id"])
    assert released["visibility"] == []
    assert dossiers.search(token(PATIENT), INS)["total"] == 1
    with pytest.raises(Conflict) as again:
        dossiers.release_document(token(doctor), INS, added["document_id"])
    assert refusal(again) == [{"field": "document_id"}]


def test_the_hourly_job_reminds_the_author_then_releases_to_the_patient(
    dossiers: Dossiers, opened: dict[str, Any], doctor: Actor
) -> None:
    deposit(dossiers, doctor, visibility=["INVISIBLE_PATIENT"])
    assert dossiers.release_due() == {"released": 0, "reminded": 0}
    dossiers.clock.advance(timedelta(days=14))
    assert dossiers.release_due() == {"released": 0, "reminded": 1}
    assert dossiers.release_due() == {"released": 0, "reminded": 0}  # reminded once
    dossiers.clock.advance(timedelta(days=16))
    assert dossiers.release_due() == {"released": 1, "reminded": 0}
    assert dossiers.search(token(PATIENT), INS)["total"] == 1
    assert dossiers.published(EventType.INVISIBILITY_REMINDER_DUE, EventType.DOCUMENT_RELEASED) == [
        EventType.INVISIBILITY_REMINDER_DUE,
        EventType.DOCUMENT_RELEASED,
    ]


def test_a_search_pages_what_the_caller_may_see_and_traces_the_listing(
    dossiers: Dossiers, opened: dict[str, Any], doctor: Actor
) -> None:
    for title in ("A", "B", "C"):
        deposit(dossiers, doctor, title=title)
        dossiers.clock.advance(timedelta(seconds=1))
    first = dossiers.search(token(doctor), INS, {"limit": 2})
    assert [d["title"] for d in first["documents"]] == ["C", "B"] and first["total"] == 3
    rest = dossiers.search(token(doctor), INS, {"limit": 2, "cursor": first["next_cursor"]})
    assert [d["title"] for d in rest["documents"]] == ["A"] and rest["next_cursor"] is None
    by_id = dossiers.search(token(doctor), None, {"patient_id": "pat_1"})
    assert (by_id["total"], by_id["ins"]) == (3, INS)
    listed = dossiers.published(EventType.DOCUMENTS_LISTED, EventType.FIRST_ACCESS)
    assert listed[:2] == [EventType.DOCUMENTS_LISTED, EventType.FIRST_ACCESS]
    assert listed.count(EventType.FIRST_ACCESS) == 1  # told once per professional
    for query, field in (({"limit": -1}, "limit"), ({"cursor": "nope!"}, "cursor")):
        with pytest.raises(InvalidInput) as bad:
            dossiers.search(token(doctor), INS, query)
        assert refusal(bad)[0]["field"] == field
    with pytest.raises(NotFound) as unknown:
        dossiers.search(token(doctor), None, {"patient_id": "pat_unknown"})
    assert refusal(unknown) == [{"field": "patient_id"}]


def test_a_search_by_author_name_finds_what_its_registered_author_deposited_under_the_same_rules(
    dossiers: Dossiers, opened: dict[str, Any], doctor: Actor
) -> None:
    """FHIR string search: a prefix, case and accents aside; `_exact` as registered. A document deposited by a
    token without a name (before names were kept) reads and matches no name; a masked one stays hidden."""
    named = professional(given_name="Élodie", family_name="Le Gall")
    kept = deposit(dossiers, named, title="named")
    assert kept["author_name"] == {"given": "Élodie", "family": "Le Gall"}
    unnamed = deposit(dossiers, doctor, title="unnamed")
    assert unnamed["author_name"] is None

    def titles(reader: Actor, **query: Any) -> list[str]:
        return [d["title"] for d in dossiers.search(token(reader), INS, query)["documents"]]

    assert titles(doctor, author_family="le g") == ["named"]  # one value, as a REST query sends it
    assert titles(doctor, author_given=["ELO"]) == ["named"]  # case and accents aside
    assert titles(doctor, author_given=["lod"]) == []  # a prefix, not a substring
    assert titles(doctor, author_given=["x,elodie"]) == ["named"]  # an OR
    assert titles(doctor, author_given=["el", "x"]) == []  # groups AND
    assert titles(doctor, author_family_exact=["Le Gall"]) == ["named"]
    assert titles(doctor, author_family_exact=["le gall"]) == []
    assert sorted(titles(doctor)) == ["named", "unnamed"]
    dossiers.set_visibility(token(PATIENT), INS, kept["document_id"], {"masked": True})
    assert titles(doctor, author_family=["le"]) == []  # masked: as absent to others
    assert titles(named, author_family=["le"]) == ["named"]  # its author still sees it


def test_a_document_is_found_by_its_id_alone_unless_hidden(
    dossiers: Dossiers, opened: dict[str, Any], doctor: Actor
) -> None:
    added = deposit(dossiers, doctor)
    found = dossiers.find_document(token(doctor), added["document_id"], False)
    assert (found["ins"], found["document"]["document_id"], "content" in found) == (
        INS,
        added["document_id"],
        False,
    )
    with_content = dossiers.find_document(token(PATIENT), added["document_id"], True)
    assert base64.b64decode(with_content["content"]) == b"CR"
    with pytest.raises(NotFound) as another_patients:
        dossiers.find_document(token(OTHER_PATIENT), added["document_id"], False)
    with pytest.raises(NotFound) as unknown:
        dossiers.find_document(token(doctor), "doc_" + "f" * 32, False)
    assert refusal(another_patients) == refusal(unknown) == [{"field": "document_id"}]


def test_reading_a_document_is_traced_before_its_content_leaves(
    dossiers: Dossiers, opened: dict[str, Any], doctor: Actor
) -> None:
    added = deposit(dossiers, doctor)
    before = len(dossiers.store.events)
    read = dossiers.read_document(token(PATIENT), INS, added["document_id"])
    assert read["access"]["rule"] == "R-HOLDER"
    assert [e.type for e in dossiers.store.events[before:]] == [EventType.DOCUMENT_READ]
    dossiers.consent.rows[doctor.id] = ("10",)  # their matrix row no longer reads class 11
    with pytest.raises(NotFound):
        dossiers.read_document(token(doctor), INS, added["document_id"])
    with pytest.raises(InvalidInput) as bad_ins:
        dossiers.read_document(token(doctor), "12", added["document_id"])
    assert refusal(bad_ins)[0]["field"] == "ins"


# The personal space


def test_the_personal_space_keeps_every_version_and_refuses_a_lost_update(
    dossiers: Dossiers, opened: dict[str, Any]
) -> None:
    assert dossiers.personal_space(token(PATIENT), INS)["version"] == 0
    content = {"blood_group": "O+", "allergies": [{"substance": "pénicilline"}]}
    saved = dossiers.update_personal_space(token(PATIENT), INS, {"content": content, "version": 0})
    assert saved["version"] == 1
    with pytest.raises(Conflict) as lost:
        dossiers.update_personal_space(
            token(PATIENT), INS, {"content": {"blood_group": "A+"}, "version": 0}
        )
    assert refusal(lost) == [{"field": "version", "current": "1"}]
    dossiers.update_personal_space(
        token(PATIENT), INS, {"content": {"blood_group": "A+"}, "version": 1}
    )
    history = dossiers.personal_space_history(token(PATIENT), INS)
    assert [(v["version"], v["content"]["blood_group"]) for v in history] == [(2, "A+"), (1, "O+")]
    with pytest.raises(InvalidInput) as bad:
        dossiers.update_personal_space(
            token(PATIENT), INS, {"content": {"blood_group": "Z"}, "version": 2}
        )
    assert refusal(bad)[0]["field"] == "content.blood_group"
    assert (
        dossiers.published(EventType.PERSONAL_SPACE_UPDATED)
        == [EventType.PERSONAL_SPACE_UPDATED] * 2
    )


def test_the_personal_space_is_for_whom_the_matrix_lets_read_class_90(
    dossiers: Dossiers, opened: dict[str, Any], doctor: Actor
) -> None:
    assert dossiers.personal_space(token(doctor), INS)["version"] == 0
    dossiers.consent.rows[doctor.id] = ("11",)
    with pytest.raises(AccessDenied) as refused:
        dossiers.personal_space(token(doctor), INS)
    assert refusal(refused) == [{"rule": "R-MATRIX-CATEGORY"}]
    with pytest.raises(AccessDenied) as history:
        dossiers.personal_space_history(token(OTHER_PATIENT), INS)
    assert refusal(history) == [{"rule": "R-OTHER-PATIENT"}]


# The reimbursement feed and the care summary


def feed_line(line_id: str, ins: str = INS, days_ago: int = 10) -> dict[str, Any]:
    return {
        "line_id": line_id,
        "ins": ins,
        "care_date": (utcnow() - timedelta(days=days_ago)).date().isoformat(),
        "items": [{"system": "CIP13", "code": "3400930000000", "atc": "C10AA05"}],
        "billed_cents": 1000,
        "reimbursed_cents": 700,
    }


def test_the_feed_adds_lines_once_and_says_why_it_refuses_one(
    dossiers: Dossiers, opened: dict[str, Any]
) -> None:
    batch = {"lines": [feed_line("l1"), feed_line("l2", OTHER_INS), feed_line("l3", days_ago=900)]}
    report = dossiers.add_reimbursements(token(FEED), batch)
    assert (report["accepted"], report["duplicates"]) == (1, 0)
    assert sorted(r["line_id"] for r in report["rejected"]) == ["l2", "l3"]
    assert dossiers.add_reimbursements(token(FEED), {"lines": [feed_line("l1")]})["duplicates"] == 1
    assert dossiers.published(EventType.REIMBURSEMENTS_ADDED) == [EventType.REIMBURSEMENTS_ADDED]
    with pytest.raises(AccessDenied):
        dossiers.add_reimbursements(token(professional()), {"lines": [feed_line("l4")]})
    with pytest.raises(InvalidInput) as empty:
        dossiers.add_reimbursements(token(FEED), {"lines": []})
    assert refusal(empty)[0]["field"] == "lines"


def test_the_patient_pages_their_reimbursements(dossiers: Dossiers, opened: dict[str, Any]) -> None:
    lines = [feed_line("l1", days_ago=3), feed_line("l2", days_ago=1)]
    dossiers.add_reimbursements(token(FEED), {"lines": lines})
    first = dossiers.reimbursements(token(PATIENT), INS, {"limit": 1})
    assert ([line["line_id"] for line in first["lines"]], first["total"]) == (["l2"], 2)
    rest = dossiers.reimbursements(token(PATIENT), INS, {"cursor": first["next_cursor"]})
    assert [line["line_id"] for line in rest["lines"]] == ["l1"] and rest["next_cursor"] is None
    with pytest.raises(InvalidInput) as bad:
        dossiers.reimbursements(token(PATIENT), INS, {"limit": 0})
    assert refusal(bad)[0]["field"] == "limit"
    doctor = professional()
    dossiers.consent.rows[doctor.id] = ("11",)
    with pytest.raises(AccessDenied) as refused:
        dossiers.reimbursements(token(doctor), INS)
    assert refusal(refused) == [{"rule": "R-MATRIX-CATEGORY"}]


def test_the_care_summary_withholds_what_the_matrix_row_does_not_read(
    dossiers: Dossiers, opened: dict[str, Any], doctor: Actor
) -> None:
    dossiers.add_reimbursements(token(FEED), {"lines": [feed_line("l1")]})
    content = {"allergies": [{"substance": "arachide", "severity": "severe"}]}
    dossiers.update_personal_space(token(PATIENT), INS, {"content": content, "version": 0})
    deposit(dossiers, doctor)
    whole = dossiers.care_summary(token(doctor), INS)
    assert whole["withheld"] == [] and whole["medicines"] and whole["latest_documents"]
    assert [a["substance"] for a in whole["allergies"]] == ["arachide"]
    narrow = professional()
    dossiers.consent.rows[narrow.id] = ("11",)
    part = dossiers.care_summary(token(narrow), INS)
    assert {(w["part"], w["rule"]) for w in part["withheld"]} == {
        ("reimbursements", "R-MATRIX-CATEGORY"),
        ("allergies", "R-MATRIX-CATEGORY"),
    }
    assert part["medicines"] is None and part["allergies"] is None
    dossiers.consent.refused[narrow.id] = "R-NO-CONSENT"
    with pytest.raises(AccessDenied) as refused:
        dossiers.care_summary(token(narrow), INS)
    assert refusal(refused) == [{"rule": "R-NO-CONSENT"}]
