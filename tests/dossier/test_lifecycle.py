"""The dossier's lifecycle over the real broker and store, with a clock the tests move."""

import base64
from datetime import timedelta
from pathlib import Path
from typing import Any

import gridfs
import pytest

from services.common.errors import AccessDenied, Conflict, ServiceUnavailable
from tests.conftest import FakeClock, People, service_database
from tests.journeys import PDF, Deposit, submission


def refused_rule(call: Any) -> str:
    with pytest.raises(AccessDenied) as error:
        call()
    return str(error.value.details[0]["rule"])


def test_close_makes_content_inaccessible_and_reopen_restores_it(
    cluster: Any, deposit: Deposit
) -> None:
    closed = cluster.dossier.close(deposit.patient, deposit.ins)
    assert closed["status"] == "closed"
    for token in (deposit.patient, deposit.doctor):
        assert (
            refused_rule(lambda t=token: cluster.dossier.search(t, deposit.ins))
            == "R-DOSSIER-CLOSED"
        )
        assert (
            refused_rule(
                lambda t=token: cluster.dossier.read_document(t, deposit.ins, deposit.document_id)
            )
            == "R-DOSSIER-CLOSED"
        )
    assert (
        refused_rule(
            lambda: cluster.dossier.add_document(deposit.doctor, deposit.ins, submission())
        )
        == "R-DOSSIER-CLOSED"
    )

    assert cluster.dossier.reopen(deposit.patient, deposit.ins)["status"] == "open"
    read = cluster.dossier.read_document(deposit.doctor, deposit.ins, deposit.document_id)
    assert base64.b64decode(read["content"]) == PDF


def test_transitions_that_make_no_sense_are_refused_with_the_state(
    cluster: Any, deposit: Deposit
) -> None:
    with pytest.raises(Conflict) as error:
        cluster.dossier.reopen(deposit.patient, deposit.ins)
    assert error.value.details == [{"state": "open"}]
    cluster.dossier.close(deposit.patient, deposit.ins)
    with pytest.raises(Conflict):
        cluster.dossier.close(deposit.patient, deposit.ins)
    with pytest.raises(Conflict) as opening:
        cluster.dossier.open(deposit.patient, {"ins": deposit.ins})
    assert opening.value.details == [{"state": "closed"}]


def test_only_the_patient_manages_the_dossier(cluster: Any, deposit: Deposit) -> None:
    assert (
        refused_rule(lambda: cluster.dossier.close(deposit.doctor, deposit.ins))
        == "R-HOLDER-MANAGES"
    )
    assert (
        refused_rule(lambda: cluster.dossier.request_deletion(deposit.doctor, deposit.ins))
        == "R-HOLDER-MANAGES"
    )


def test_closed_dossier_is_purged_after_ten_years_not_before(
    cluster: Any, deposit: Deposit, clock: FakeClock, environment: dict[str, str]
) -> None:
    cluster.dossier.close(deposit.patient, deposit.ins)
    clock.advance(timedelta(days=9 * 365))
    assert cluster.dossier.purge_due() == {"purged": 0}
    clock.advance(timedelta(days=366 + 5))
    assert cluster.dossier.purge_due() == {"purged": 1}
    store = service_database(environment, "dossier")
    assert store.dossiers.count_documents({"ins": deposit.ins}) == 0
    assert store.documents.count_documents({"_id": deposit.document_id}) == 0
    with pytest.raises(gridfs.errors.NoFile):
        gridfs.GridFSBucket(store, bucket_name="contents").open_download_stream(deposit.document_id)
    # Gone for good: the patient may open a new, empty dossier.
    cluster.dossier.open(deposit.patient, {"ins": deposit.ins})
    assert cluster.dossier.search(deposit.patient, deposit.ins)["documents"] == []


def test_deletion_destroys_the_key_at_once_and_purges_within_three_months(
    cluster: Any, deposit: Deposit, clock: FakeClock, environment: dict[str, str]
) -> None:
    answer = cluster.dossier.request_deletion(deposit.patient, deposit.ins)
    assert answer["status"] == "deletion_requested"
    store = service_database(environment, "dossier")
    dossier = store.dossiers.find_one({"ins": deposit.ins})
    assert dossier is not None and "wrapped_key" not in dossier  # the content is unreadable now
    assert (
        refused_rule(lambda: cluster.dossier.search(deposit.patient, deposit.ins))
        == "R-DOSSIER-CLOSED"
    )
    with pytest.raises(Conflict):
        cluster.dossier.reopen(deposit.patient, deposit.ins)
    clock.advance(timedelta(days=91))
    assert cluster.dossier.purge_due() == {"purged": 1}
    assert store.documents.count_documents({"dossier_id": dossier["_id"]}) == 0


def test_content_is_encrypted_at_rest(
    cluster: Any, people: People, environment: dict[str, str], mongo_data: Path
) -> None:
    ins, patient = people.patient()
    cluster.dossier.open(patient, {"ins": ins})
    marker = b"RESULTAT-CONFIDENTIEL-7f3a"
    document = cluster.dossier.add_document(
        patient, ins, submission(b"%PDF-1.4 " + marker, category="90", type_code="DOCPAT01")
    )
    store = service_database(environment, "dossier")
    stored = (
        gridfs.GridFSBucket(store, bucket_name="contents")
        .open_download_stream(document["document_id"])
        .read()
    )
    assert marker not in stored
    assert all(marker not in path.read_bytes() for path in mongo_data.rglob("*") if path.is_file())
    content = cluster.dossier.read_document(patient, ins, document["document_id"])["content"]
    assert marker in base64.b64decode(content)


def test_corrupted_content_is_reported_not_served(
    cluster: Any, deposit: Deposit, environment: dict[str, str]
) -> None:
    contents = gridfs.GridFSBucket(service_database(environment, "dossier"), bucket_name="contents")
    sealed = bytearray(contents.open_download_stream(deposit.document_id).read())
    sealed[-1] ^= 0x01
    contents.delete(deposit.document_id)
    contents.upload_from_stream_with_id(deposit.document_id, deposit.document_id, bytes(sealed))
    with pytest.raises(ServiceUnavailable, match="corrupted"):
        cluster.dossier.read_document(deposit.patient, deposit.ins, deposit.document_id)


def test_pharmacist_is_paid_once_per_patient(
    cluster: Any, people: People, clock: FakeClock
) -> None:
    ins, patient = people.patient()
    rpps, pharmacist = people.professional("21")
    cluster.dossier.open(pharmacist, {"ins": ins, "patient_consent": True})
    cluster.dossier.close(patient, ins)
    cluster.dossier.reopen(patient, ins)
    cluster.dossier.request_deletion(patient, ins)
    clock.advance(timedelta(days=91))
    cluster.dossier.purge_due()
    cluster.dossier.open(
        pharmacist, {"ins": ins, "patient_consent": True}
    )  # a new dossier, same patient
    first_month = (clock.now() - timedelta(days=91)).strftime(
        "%Y-%m"
    )  # months apart: never the same
    fees = cluster.dossier.pharmacy_fees(first_month) + cluster.dossier.pharmacy_fees(
        clock.now().strftime("%Y-%m")
    )
    assert len(fees) == 1 and fees[0]["pharmacist_id"] == f"rpps:{rpps}"
