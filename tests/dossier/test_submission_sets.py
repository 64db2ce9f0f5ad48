"""The dossier keeps each ITI-65 submission set with its deposit and shows it (ITI-66) only with the documents
the caller may see: the service's RPCs against the real store."""

from __future__ import annotations

from typing import Any

import pytest

from services.common.errors import Conflict, DmpError, InvalidInput, NotFound
from tests.conftest import People
from tests.dossier.test_documents import dossier_with_two_consenting_professionals, pdf
from tests.journeys import submission

SET = {"unique_id": "urn:oid:1.2.250.1.999.66.7", "source_id": "urn:oid:1.2.250.1.999.66"}


def test_a_refused_deposit_keeps_no_set_and_a_kept_set_names_its_documents_in_order(
    cluster: Any, people: People
) -> None:
    ins, patient, author, _ = dossier_with_two_consenting_professionals(cluster, people)
    for bad in (submission(b"not a pdf"), submission(pdf(1))):  # bad content; a copy of the first
        with pytest.raises(DmpError) as refused:
            cluster.dossier.add_submission_set(author, ins, SET, [submission(pdf(1)), bad])
        assert {detail.get("entry") for detail in refused.value.details} == {"1"}
    assert cluster.dossier.search_submission_sets(author, ins)["total"] == 0
    assert cluster.dossier.search(patient, ins)["total"] == 0
    with pytest.raises(InvalidInput) as malformed:  # the set's own fields are checked too
        cluster.dossier.add_submission_set(
            author, ins, {"unique_id": "not-a-urn"}, [submission(pdf(1))]
        )
    assert "unique_id" in str(malformed.value.details)
    added = cluster.dossier.add_submission_set(
        author, ins, SET, [submission(pdf(2)), submission(pdf(3))]
    )
    page = cluster.dossier.search_submission_sets(patient, ins)
    assert page["total"] == 1
    kept = page["submission_sets"][0]
    assert kept["submission_set_id"] == added["submission_set_id"]
    assert [d["document_id"] for d in kept["documents"]] == [
        d["document_id"] for d in added["documents"]
    ]
    assert kept["unique_id"] == SET["unique_id"] and kept["author"]["id"].startswith("rpps:")
    with pytest.raises(Conflict) as reused:  # its unique id, once per dossier; nothing stored
        cluster.dossier.add_submission_set(author, ins, SET, [submission(pdf(4))])
    assert reused.value.details == [{"field": "submission_set.unique_id"}]
    assert cluster.dossier.search(patient, ins)["total"] == 2


def test_a_set_of_hidden_documents_answers_like_an_unknown_one(
    cluster: Any, people: People
) -> None:
    ins, patient, author, colleague = dossier_with_two_consenting_professionals(cluster, people)
    added = cluster.dossier.add_submission_set(author, ins, {}, [submission(pdf(5))])
    set_id, (document,) = added["submission_set_id"], added["documents"]
    cluster.dossier.set_visibility(patient, ins, document["document_id"], {"masked": True})
    with pytest.raises(NotFound) as hidden:
        cluster.dossier.find_submission_set(colleague, set_id)
    with pytest.raises(NotFound) as unknown:
        cluster.dossier.find_submission_set(colleague, f"sub_{'0' * 32}")
    assert (hidden.value.message, hidden.value.details) == (
        unknown.value.message,
        unknown.value.details,
    )
    assert cluster.dossier.search_submission_sets(colleague, ins)["total"] == 0
    shown = cluster.dossier.find_submission_set(author, set_id)["submission_set"]
    assert [d["document_id"] for d in shown["documents"]] == [document["document_id"]]
