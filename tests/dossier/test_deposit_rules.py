"""Rules of deposits and accesses without I/O: the pharmacy fee, the first access, the invisibility schedule,
the idempotency protocol."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from services.common.actors import Actor, ActorKind
from services.common.errors import Conflict, InvalidInput
from services.dossier import documents, rules
from services.dossier.records import Channel, Document, IdempotencyClaim, Metadata, Visibility

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
PHARMACIST = Actor(
    kind=ActorKind.PROFESSIONAL, id="rpps:10000000009", profession="21", organisation="750000001"
)
DOCTOR = Actor(kind=ActorKind.PROFESSIONAL, id="rpps:10000000017", profession="10")
PATIENT = Actor(kind=ActorKind.PATIENT, id="pat_1", ins="1850775123456")
AGENT = Actor(kind=ActorKind.COUNTER_AGENT, id="agent:1")


def document(*visibility: Visibility, **fields: object) -> Document:
    metadata = Metadata(
        category="10",
        type_code="11488-4",
        title="CR",
        care_date=date(2026, 11, 19),
        format="application/pdf",
        visibility=visibility,
    )
    return replace(
        Document(
            id="doc_1",
            dossier_id="dos_1",
            patient_id="pat_1",
            metadata=metadata,
            author=DOCTOR.ref,
            created_at=NOW,
            size=10,
            sha256="ab",
        ),
        **fields,  # type: ignore[arg-type]
    )


# The pharmacy fee


def test_a_pharmacy_opening_earns_its_pharmacy_a_fee_in_the_month() -> None:
    channel = rules.opening_channel(PHARMACIST)
    fee = rules.opening_fee(PHARMACIST, channel, "pat_1", "dos_1", NOW)
    assert channel is Channel.PHARMACY and fee is not None
    assert (fee.patient_id, fee.pharmacist_id, fee.organisation, fee.month) == (
        "pat_1",
        PHARMACIST.id,
        "750000001",
        "2026-11",
    )


@pytest.mark.parametrize("actor", [DOCTOR, PATIENT, AGENT])
def test_no_other_channel_earns_a_fee(actor: Actor) -> None:
    assert rules.opening_fee(actor, rules.opening_channel(actor), "pat_1", "dos_1", NOW) is None


def test_a_pharmacist_without_organisation_is_still_paid_under_none() -> None:
    pharmacist = PHARMACIST.model_copy(update={"organisation": None})
    fee = rules.opening_fee(pharmacist, Channel.PHARMACY, "pat_1", "dos_1", NOW)
    assert fee is not None and fee.organisation == ""


# The first access


@pytest.mark.parametrize(
    ("actor", "told"), [(DOCTOR, True), (PHARMACIST, True), (PATIENT, False), (AGENT, False)]
)
def test_the_patient_is_told_of_professionals_first_accesses_only(actor: Actor, told: bool) -> None:
    assert rules.tells_first_access(actor) is told


# The invisibility schedule


def test_a_document_invisible_to_the_patient_is_released_after_a_month_and_reminded_after_two_weeks() -> (
    None
):
    assert rules.invisibility_schedule([Visibility.INVISIBLE_TO_PATIENT], [], None, NOW) == (
        NOW + timedelta(days=30),
        NOW + timedelta(days=14),
    )


def test_a_new_version_keeps_the_announcement_date_of_the_old_one() -> None:
    old = document(
        Visibility.INVISIBLE_TO_PATIENT,
        release_at=NOW - timedelta(days=3),
        remind_at=NOW + timedelta(days=1),
    )
    assert rules.invisibility_schedule([], [Visibility.INVISIBLE_TO_PATIENT], old, NOW) == (
        old.release_at,
        old.remind_at,
    )


def test_a_visible_document_has_no_schedule() -> None:
    assert rules.invisibility_schedule(
        [Visibility.INVISIBLE_TO_REPRESENTATIVES], [], None, NOW
    ) == (None, None)


def test_a_released_document_keeps_its_other_restrictions_and_nothing_is_due() -> None:
    due = document(
        Visibility.INVISIBLE_TO_REPRESENTATIVES, Visibility.INVISIBLE_TO_PATIENT, release_at=NOW
    )
    released = rules.released(due)
    assert (
        released.visibility == (Visibility.INVISIBLE_TO_REPRESENTATIVES,)
        and released.release_at is None
    )


# The idempotency protocol


def test_the_first_request_with_a_key_stores_its_document() -> None:
    assert rules.replayed("fp", None, None) is None


def test_a_retry_answers_the_document_of_the_first_request() -> None:
    replay = rules.replayed("fp", IdempotencyClaim("fp", NOW, "doc_1"), None)
    assert replay is not None and (replay.document_id, replay.document, replay.complete_claim) == (
        "doc_1",
        None,
        False,
    )


def test_a_document_stored_by_a_request_that_died_is_answered_and_its_claim_completed() -> None:
    stored = document(idempotency_fingerprint="fp")
    replay = rules.replayed("fp", IdempotencyClaim("fp", NOW, None), stored)
    assert replay is not None and replay.document is stored and replay.complete_claim


@pytest.mark.parametrize(
    ("claim", "stored"),
    [
        (IdempotencyClaim("other", NOW, "doc_1"), None),
        (None, document(idempotency_fingerprint="other")),
    ],
)
def test_a_key_used_for_another_request_is_a_conflict(
    claim: IdempotencyClaim | None, stored: Document | None
) -> None:
    with pytest.raises(Conflict, match="different request"):
        rules.replayed("fp", claim, stored)


def test_a_key_whose_request_is_under_way_is_a_conflict_to_retry_shortly() -> None:
    with pytest.raises(Conflict, match="in progress") as busy:
        rules.replayed("fp", IdempotencyClaim("fp", NOW, None), None)
    assert busy.value.details == [{"field": "Idempotency-Key"}, {"retry_after": "1"}]


def test_the_fingerprint_is_of_the_ins_and_the_body_whatever_the_key_order() -> None:
    assert rules.request_fingerprint("1", {"a": 1, "b": 2}) == rules.request_fingerprint(
        "1", {"b": 2, "a": 1}
    )
    assert rules.request_fingerprint("1", {"a": 1}) != rules.request_fingerprint("2", {"a": 1})


# Documents deposited together


def test_documents_deposited_together_may_each_be_new() -> None:
    other = replace(document().metadata, title="Another")
    documents.check_together(
        [(document().metadata, "ab"), (other, "ab"), (document().metadata, "cd")],
        [None, "doc_9", None],
    )


@pytest.mark.parametrize(
    ("deposits", "replaced", "field"),
    [
        ([(document().metadata, "ab"), (document().metadata, "ab")], [None, None], "content"),
        (
            [
                (replace(document().metadata, unique_id="urn:oid:1.2"), "ab"),
                (replace(document().metadata, unique_id="urn:oid:1.2"), "cd"),
            ],
            [None, None],
            "unique_id",
        ),
        (
            [(document().metadata, "ab"), (document().metadata, "cd")],
            ["doc_9", "doc_9"],
            "replaces",
        ),
    ],
)
def test_a_document_deposited_twice_together_is_refused_naming_the_second(
    deposits: list[tuple[Metadata, str]], replaced: list[str | None], field: str
) -> None:
    with pytest.raises(InvalidInput) as error:
        documents.check_together(deposits, replaced)
    assert (
        error.value.details == [{"field": field, "entry": "1"}]
        and "document 2" in error.value.message
    )
