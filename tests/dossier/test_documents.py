"""Document operations and search over the real broker and store: replace, archive, delete,
masking, filters, and full pages with honest totals whatever is hidden."""

import base64
from collections.abc import Iterator
from typing import Any

import gridfs
import pytest

from services.common.errors import AccessDenied, Conflict, DmpError, InvalidInput, NotFound
from tests.conftest import People, service_database
from tests.journeys import Deposit, submission


def pdf(n: int) -> bytes:
    return f"%PDF-1.4 compte rendu {n}".encode()


def all_pages(cluster: Any, token: str, ins: str, **query: Any) -> Iterator[dict[str, Any]]:
    cursor = None
    while True:
        page = cluster.dossier.search(token, ins, {**query, "cursor": cursor})
        yield page
        cursor = page["next_cursor"]
        if cursor is None:
            return


def dossier_with_two_consenting_professionals(
    cluster: Any, people: People
) -> tuple[str, str, str, str]:
    """(ins, the patient's, the author's and a colleague's tokens): an open dossier both professionals have
    consent to."""
    ins, patient = people.patient()
    cluster.dossier.open(patient, {"ins": ins})
    _, author = people.professional()
    _, colleague = people.professional()
    for token in (author, colleague):
        cluster.consent.record_consent(token, ins)
    return ins, patient, author, colleague


def test_pages_are_full_and_totals_honest_under_masking(cluster: Any, people: People) -> None:
    ins, patient, author, colleague = dossier_with_two_consenting_professionals(cluster, people)
    ids = [
        cluster.dossier.add_document(author, ins, submission(pdf(n)))["document_id"]
        for n in range(30)
    ]
    masked = set(ids[::3])  # 10 of 30
    for document_id in masked:
        cluster.dossier.set_visibility(patient, ins, document_id, {"masked": True})

    pages = list(all_pages(cluster, colleague, ins, limit=7))
    assert [len(p["documents"]) for p in pages] == [7, 7, 6]
    assert {p["total"] for p in pages} == {20}
    seen = [d["document_id"] for p in pages for d in p["documents"]]
    assert len(set(seen)) == 20 and not masked & set(seen)
    assert seen == [i for i in reversed(ids) if i not in masked]  # newest first, no gaps
    assert (
        cluster.dossier.search(author, ins, {"limit": 1})["total"] == 30
    )  # the author sees their own
    assert cluster.dossier.search(patient, ins, {"limit": 1})["total"] == 30
    with pytest.raises(NotFound):
        cluster.dossier.read_document(colleague, ins, ids[0])


def test_unmasking_shows_the_document_again(cluster: Any, deposit: Deposit, people: People) -> None:
    cluster.dossier.set_visibility(
        deposit.patient, deposit.ins, deposit.document_id, {"masked": True}
    )
    _, colleague = people.professional()
    cluster.consent.record_consent(colleague, deposit.ins)
    assert cluster.dossier.search(colleague, deposit.ins)["total"] == 0
    cluster.dossier.set_visibility(
        deposit.patient, deposit.ins, deposit.document_id, {"masked": False}
    )
    assert (
        cluster.dossier.read_document(colleague, deposit.ins, deposit.document_id)["document"][
            "visibility"
        ]
        == []
    )


def test_only_the_patient_masks(cluster: Any, deposit: Deposit) -> None:
    with pytest.raises(AccessDenied) as error:
        cluster.dossier.set_visibility(
            deposit.doctor, deposit.ins, deposit.document_id, {"masked": True}
        )
    assert error.value.details == [{"rule": "R-HOLDER-MANAGES"}]


def test_filters_by_category_type_author_date_and_status(
    cluster: Any, deposit: Deposit, people: People
) -> None:
    _, other = people.professional()
    cluster.consent.record_consent(other, deposit.ins)
    cluster.dossier.add_document(
        other,
        deposit.ins,
        submission(pdf(1), category="11", type_code="34133-9", care_date="2026-01-10"),
    )

    def search(**query: Any) -> set[str]:
        return {
            d["type_code"]
            for d in cluster.dossier.search(deposit.patient, deposit.ins, query)["documents"]
        }

    assert search(category=["11"]) == {"34133-9"}
    assert search(type_code="11488-4") == {"11488-4"}
    assert search(author_id=f"rpps:{deposit.doctor_rpps}") == {"11488-4"}
    assert search(care_from="2026-11-01") == {"11488-4"}
    assert search(care_to="2026-06-30") == {"34133-9"}
    assert search(status="archived") == set()


def test_replacement_keeps_the_old_version_in_history(
    cluster: Any, deposit: Deposit, people: People
) -> None:
    new = cluster.dossier.replace_document(
        deposit.doctor,
        deposit.ins,
        deposit.document_id,
        submission(pdf(2), title="Consultation (corrigée)"),
    )
    assert new["replaces"] == deposit.document_id
    current = cluster.dossier.search(deposit.patient, deposit.ins)["documents"]
    assert [d["document_id"] for d in current] == [new["document_id"]]
    [old] = cluster.dossier.search(deposit.patient, deposit.ins, {"status": "replaced"})[
        "documents"
    ]
    assert old["document_id"] == deposit.document_id and old["replaced_by"] == new["document_id"]
    _, other = people.professional()
    cluster.consent.record_consent(other, deposit.ins)
    with pytest.raises(AccessDenied) as error:
        cluster.dossier.replace_document(other, deposit.ins, new["document_id"], submission(pdf(3)))
    assert error.value.details == [{"rule": "R-AUTHOR-ONLY"}]


def test_archiving_hides_from_default_search_and_is_reversible(
    cluster: Any, deposit: Deposit
) -> None:
    archived = cluster.dossier.archive_document(
        deposit.patient, deposit.ins, deposit.document_id, True
    )
    assert archived["status"] == "archived"
    assert cluster.dossier.search(deposit.doctor, deposit.ins)["total"] == 0
    assert cluster.dossier.search(deposit.doctor, deposit.ins, {"status": "archived"})["total"] == 1
    cluster.dossier.archive_document(deposit.doctor, deposit.ins, deposit.document_id, False)
    assert cluster.dossier.search(deposit.doctor, deposit.ins)["total"] == 1


def test_author_deletes_and_the_content_is_destroyed(
    cluster: Any, deposit: Deposit, environment: dict[str, str]
) -> None:
    with pytest.raises(AccessDenied):
        cluster.dossier.delete_document(
            deposit.patient, deposit.ins, deposit.document_id
        )  # not theirs: mask it
    assert (
        cluster.dossier.delete_document(deposit.doctor, deposit.ins, deposit.document_id)["status"]
        == "deleted"
    )
    assert cluster.dossier.search(deposit.patient, deposit.ins)["total"] == 0
    with pytest.raises(NotFound):
        cluster.dossier.read_document(deposit.patient, deposit.ins, deposit.document_id)
    contents = gridfs.GridFSBucket(service_database(environment, "dossier"), bucket_name="contents")
    with pytest.raises(gridfs.errors.NoFile):
        contents.open_download_stream(deposit.document_id)


def test_patient_adds_and_deletes_their_own_photo(cluster: Any, people: People) -> None:
    ins, patient = people.patient()
    cluster.dossier.open(patient, {"ins": ins})
    photo = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
    added = cluster.dossier.add_document(
        patient,
        ins,
        submission(
            photo, category="90", type_code="DOCPAT04", format="image/png", title="Radio du genou"
        ),
    )
    assert (
        base64.b64decode(
            cluster.dossier.read_document(patient, ins, added["document_id"])["content"]
        )
        == photo
    )
    assert (
        cluster.dossier.delete_document(patient, ins, added["document_id"])["status"] == "deleted"
    )


def test_images_from_professionals_are_refused_naming_the_field(
    cluster: Any, deposit: Deposit
) -> None:
    with pytest.raises(InvalidInput) as error:
        cluster.dossier.add_document(
            deposit.doctor, deposit.ins, submission(b"\xff\xd8\xff\xe0 JFIF", format="image/jpeg")
        )
    assert error.value.details[0]["field"] == "format"


def test_imaging_reports_carry_a_link_to_the_images(cluster: Any, deposit: Deposit) -> None:
    study = {
        "study_instance_uid": "1.2.250.1.59.3.1.42",
        "viewer_url": "https://pacs.example.fr/viewer/42",
    }
    added = cluster.dossier.add_document(
        deposit.doctor,
        deposit.ins,
        submission(pdf(9), category="31", type_code="18748-4", imaging_study=study),
    )
    assert added["imaging_study"] == study


def test_a_cursor_not_from_the_api_is_refused(cluster: Any, deposit: Deposit) -> None:
    with pytest.raises(InvalidInput) as error:
        cluster.dossier.search(deposit.patient, deposit.ins, {"cursor": "bm90LWEtY3Vyc29y"})
    assert error.value.details[0]["field"] == "cursor"


def test_a_retried_deposit_with_the_same_idempotency_key_creates_one_document(
    cluster: Any, deposit: Deposit
) -> None:
    body = submission(pdf(77))
    first = cluster.dossier.add_document(
        deposit.doctor, deposit.ins, body, "upload-2026-11-23-0001"
    )
    again = cluster.dossier.add_document(
        deposit.doctor, deposit.ins, body, "upload-2026-11-23-0001"
    )
    assert again["document_id"] == first["document_id"] and again["replayed"] is True
    assert (
        cluster.dossier.search(deposit.doctor, deposit.ins)["total"] == 2
    )  # the deposit fixture's + this one
    with pytest.raises(Conflict, match="different request"):
        cluster.dossier.add_document(
            deposit.doctor, deposit.ins, submission(pdf(78)), "upload-2026-11-23-0001"
        )
    with pytest.raises(InvalidInput) as error:
        cluster.dossier.add_document(deposit.doctor, deposit.ins, body, "short")
    assert error.value.details[0]["field"] == "Idempotency-Key"


def test_documents_deposited_together_are_all_stored_or_none(cluster: Any, people: People) -> None:
    """A submission set (ITI-65) is checked whole before anything is stored: a refusal of any document, by
    its rights, its content or as a copy of another, stores none, and names it by its position."""
    ins, patient = people.patient()
    cluster.dossier.open(patient, {"ins": ins})
    _, doctor = people.professional()
    cluster.consent.record_consent(doctor, ins)
    good = submission(pdf(1))
    refusals: list[tuple[dict[str, Any], type[DmpError]]] = [
        (
            submission(pdf(2), category="60"),
            AccessDenied,
        ),  # reimbursements: written by the feed only
        (submission(b"not a pdf"), InvalidInput),
        (submission(pdf(3), care_date="yesterday"), InvalidInput),
        (good, InvalidInput),  # the same document twice in one set
    ]
    for bad, refused in refusals:
        with pytest.raises(refused) as error:
            cluster.dossier.add_documents(doctor, ins, [good, bad])
        assert {detail.get("entry") for detail in error.value.details} == {"1"}, error.value.details
    assert cluster.dossier.search(patient, ins)["total"] == 0
    stored = cluster.dossier.add_documents(doctor, ins, [good, submission(pdf(2))])
    listed = cluster.dossier.search(patient, ins)["documents"]
    assert len(stored) == 2 and {d["document_id"] for d in stored} == {
        d["document_id"] for d in listed
    }
    with pytest.raises(InvalidInput):
        cluster.dossier.add_documents(doctor, ins, [])


def test_documents_deposited_together_replace_only_what_their_author_may(
    cluster: Any, people: People
) -> None:
    ins, patient, author, colleague = dossier_with_two_consenting_professionals(cluster, people)
    old = cluster.dossier.add_document(author, ins, submission(pdf(1)))["document_id"]
    with pytest.raises(
        DmpError
    ) as by_another:  # the author's rule: refused, traced, nothing stored
        cluster.dossier.add_documents(colleague, ins, [submission(pdf(2))], [old])
    assert {detail.get("entry") for detail in by_another.value.details} == {"0"}
    with pytest.raises(InvalidInput):
        cluster.dossier.add_documents(
            author, ins, [submission(pdf(3)), submission(pdf(4))], [old, old]
        )
    with pytest.raises(NotFound):
        cluster.dossier.add_documents(author, ins, [submission(pdf(5))], [f"doc_{'0' * 32}"])
    assert [d["document_id"] for d in cluster.dossier.search(patient, ins)["documents"]] == [old]
    new = cluster.dossier.add_documents(author, ins, [submission(pdf(6))], [old])[0]
    assert new["replaces"] == old
    assert (
        cluster.dossier.search(patient, ins, {"status": "replaced"})["documents"][0]["replaced_by"]
        == (new["document_id"])
    )
