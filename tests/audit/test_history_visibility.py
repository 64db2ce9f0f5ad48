"""Issue 17, items 3 and 4: the history hides every trace of a document its reader may not see (one
visibility rule for documents and their traces), for every audience and every way of reading it (RPC,
REST, FHIR AuditEvent, the patient's page); and professionals see nothing of a closed dossier's history."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from nameko import config

from deploy.local.processes import free_port, port_answers, wait_for
from services.common.errors import AccessDenied
from services.common.settings import Settings
from services.common.tokens import verify
from tests.conftest import People
from tests.journeys import (
    become_medecin_traitant,
    eventually,
    minor_with_representative,
    submission,
)

SECRET = "INVISIBLE_REPRESENTANTS_LEGAUX"


def walk(cluster: Any, token: str, ins: str, **filters: Any) -> tuple[list[dict[str, Any]], int]:
    """Every trace of a history, two at a time: each page but the last is full, the total is the same
    on every page and counts exactly what the pages hold."""
    traces: list[dict[str, Any]] = []
    totals, cursor = set(), None
    while True:
        page = cluster.audit.history(
            token, ins, {**filters, "limit": 2, **({"cursor": cursor} if cursor else {})}
        )
        traces += page["traces"]
        totals.add(page["total"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert len(page["traces"]) == 2  # filtered in the query, not after paging
    assert len(totals) == 1 and totals.pop() == len(traces)
    assert len({t["event_id"] for t in traces}) == len(traces)
    return traces, len(traces)


def ids(traces: list[dict[str, Any]]) -> set[str]:
    return {t["event_id"] for t in traces}


def minor_with_parent(cluster: Any, people: People) -> tuple[str, str, str]:
    return minor_with_representative(cluster, people)


def declare_medecin_traitant(cluster: Any, doctor: str, ins: str, patient: str) -> None:
    """The one place these tests make a médecin traitant: the doctor proposes, the patient confirms."""
    become_medecin_traitant(
        cluster, ins, patient, doctor, verify(doctor, Settings.load()).id.removeprefix("rpps:")
    )


@pytest.fixture
def api(cluster: Any, tmp_path: Path) -> Iterator[httpx.Client]:
    """The real gateway, in its own process, calling this test's services."""
    port = free_port()
    env = {
        **os.environ,
        "AMQP_URI": config["AMQP_URI"],
        "DMP_GATEWAY_PORT": str(port),
        "DMP_RATE_PER_ACTOR_PER_MINUTE": "1000000",
    }
    with (tmp_path / "gateway.log").open("wb") as log:
        gateway = subprocess.Popen(
            [sys.executable, "-m", "services.gateway.main"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for("the gateway", lambda: port_answers("127.0.0.1", port), 30)
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                yield client
        finally:
            gateway.terminate()
            gateway.wait(20)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_legal_representatives_history_names_the_minors_secret_document_no_more(
    cluster: Any, people: People, api: httpx.Client
) -> None:
    ins, minor, parent = minor_with_parent(cluster, people)
    rpps, doctor = people.professional("10")
    cluster.consent.record_consent(doctor, ins)
    ordinary = cluster.dossier.add_document(doctor, ins, submission(b"%PDF-1.4 ordinaire"))[
        "document_id"
    ]
    secret = cluster.dossier.add_document(
        doctor, ins, submission(b"%PDF-1.4 secret", visibility=[SECRET])
    )["document_id"]
    cluster.dossier.read_document(doctor, ins, secret)  # the doctor's first access is to the secret
    cluster.dossier.read_document(doctor, ins, ordinary)
    cluster.dossier.read_document(minor, ins, secret)
    eventually(
        lambda: (
            sum(
                t["document_id"] == ordinary and t["type"] == "document_read"
                for t in cluster.audit.history(minor, ins, {"limit": 200})["traces"]
            )
            == 1
        )
    )

    everything, _ = walk(
        cluster, minor, ins
    )  # the minor's own history: every trace, the secret's too
    of_the_secret = [t for t in everything if t["document_id"] == secret]
    assert {t["type"] for t in of_the_secret} >= {"document_added", "document_read", "first_access"}

    seen, total = walk(cluster, parent, ins)
    assert ids(seen) == ids(everything) - ids(of_the_secret)
    assert total == len(everything) - len(of_the_secret)
    assert secret not in json.dumps(seen)
    # Not even when the doctor's first access to the dossier was the secret's reading.
    assert "first_access" not in {t["type"] for t in seen}

    # Filters (an action, the secret's author, dates), the FHIR export, the REST routes: the same.
    added, _ = walk(cluster, parent, ins, action="document_added")
    assert [t["document_id"] for t in added] == [ordinary]
    read, _ = walk(cluster, parent, ins, action="document_read")
    assert {t["document_id"] for t in read} == {ordinary}
    by_author, _ = walk(
        cluster,
        parent,
        ins,
        professional_id=f"rpps:{rpps}",
        date_from=date.today().isoformat(),
        date_to=date.today().isoformat(),
    )
    assert secret not in json.dumps(by_author) and ordinary in {t["document_id"] for t in by_author}
    # A cursor the minor was given, at the secret's newest trace: the parent's page after it is theirs.
    newest = next(n for n, t in enumerate(everything) if t["document_id"] == secret)
    cursor = cluster.audit.history(minor, ins, {"limit": newest + 1})["next_cursor"]
    later = cluster.audit.history(parent, ins, {"limit": 200, "cursor": cursor})
    assert secret not in json.dumps(later)
    assert ids(later["traces"]) == ids(everything[newest + 1 :]) - ids(of_the_secret)
    bundle = cluster.audit.history(parent, ins, {"format": "fhir", "limit": 200})
    assert secret not in json.dumps(bundle)
    assert bundle["total"] == total == len(bundle["entry"])
    small = cluster.audit.history(parent, ins, {"format": "fhir", "limit": 1})
    assert (
        small["total"] == total and len(small["entry"]) == 1
    )  # an honest total, not the page's size

    rest = api.get(f"/api/v1/patients/{ins}/history", params={"limit": 200}, headers=bearer(parent))
    assert rest.status_code == 200, rest.text
    assert secret not in rest.text and rest.json()["total"] == total
    fhir = api.get(
        f"/api/v1/patients/{ins}/history/fhir", params={"limit": 200}, headers=bearer(parent)
    )
    assert fhir.status_code == 200 and secret not in fhir.text and fhir.json()["total"] == total
    assert (
        secret
        in api.get(
            f"/api/v1/patients/{ins}/history", params={"limit": 200}, headers=bearer(minor)
        ).text
    )


def test_a_document_invisible_to_the_patient_leaves_no_trace_in_their_history_until_released(
    cluster: Any, people: People, api: httpx.Client
) -> None:
    ins, patient = people.patient()
    cluster.dossier.open(patient, {"ins": ins})
    _, doctor = people.professional("10")
    cluster.consent.record_consent(doctor, ins)
    hidden = cluster.dossier.add_document(
        doctor, ins, submission(b"%PDF-1.4 resultat", visibility=["INVISIBLE_PATIENT"])
    )["document_id"]
    cluster.dossier.read_document(doctor, ins, hidden)
    eventually(
        lambda: any(
            t["type"] == "document_read"
            for t in cluster.audit.history(doctor, ins, {"limit": 200})["traces"]
        )
    )

    seen, total = walk(cluster, patient, ins)
    assert hidden not in json.dumps(seen)
    assert not {"document_added", "document_read", "first_access"} & {t["type"] for t in seen}
    bundle = cluster.audit.history(patient, ins, {"format": "fhir"})
    assert hidden not in json.dumps(bundle) and bundle["total"] == total
    page = api.get("/patient/history", cookies={"dmp_access": patient})
    assert page.status_code == 200, page.text
    assert hidden not in page.text and "Consultation d'un document" not in page.text

    cluster.dossier.release_document(doctor, ins, hidden)
    eventually(
        lambda: any(
            t["type"] == "document_released"
            for t in cluster.audit.history(patient, ins, {"limit": 200})["traces"]
        )
    )
    after, _ = walk(cluster, patient, ins)
    assert {t["type"] for t in after if t["document_id"] == hidden} >= {
        "document_added",
        "document_read",
        "first_access",
        "document_released",
    }


def test_a_masked_documents_traces_are_hidden_from_professionals_but_the_author_and_the_medecin_traitant(
    cluster: Any, people: People
) -> None:
    ins, patient = people.patient()
    cluster.dossier.open(patient, {"ins": ins})
    _, author = people.professional("10")
    _, cardiologist = people.professional("10")
    _, mt = people.professional("10")
    for doctor in (author, cardiologist, mt):
        cluster.consent.record_consent(doctor, ins)
    declare_medecin_traitant(cluster, mt, ins, patient)
    masked = cluster.dossier.add_document(author, ins, submission(b"%PDF-1.4 masque"))[
        "document_id"
    ]
    own = cluster.dossier.add_document(cardiologist, ins, submission(b"%PDF-1.4 cardio"))[
        "document_id"
    ]
    cluster.dossier.read_document(
        cardiologist, ins, masked
    )  # before the mask: a trace of the masked document
    cluster.dossier.set_visibility(patient, ins, masked, {"masked": True})
    cluster.dossier.read_document(mt, ins, masked)
    eventually(
        lambda: (
            [
                t["type"] for t in cluster.audit.history(patient, ins, {"limit": 200})["traces"]
            ].count("document_read")
            == 2
        )
    )
    everything, _ = walk(cluster, patient, ins)
    of_masked = ids([t for t in everything if t["document_id"] == masked])

    by_cardiologist, _ = walk(cluster, cardiologist, ins)  # an author of another document
    assert masked not in json.dumps(by_cardiologist) and {
        t["document_id"] for t in by_cardiologist
    } == {own}
    by_author, _ = walk(cluster, author, ins)
    assert ids(by_author) == of_masked  # including the patient's masking and the reads of others
    by_mt, _ = walk(cluster, mt, ins)
    assert ids(by_mt) == ids(
        everything
    )  # the médecin traitant sees masked documents, and their traces
    _, stranger = people.professional("10")
    assert walk(cluster, stranger, ins) == ([], 0)


def test_a_closed_or_deleted_dossier_still_shows_its_access_history_to_professionals_no_more(
    cluster: Any, people: People, api: httpx.Client
) -> None:
    ins, patient = people.patient()
    cluster.dossier.open(patient, {"ins": ins})
    _, author = people.professional("10")
    _, mt = people.professional("10")
    _, stranger = people.professional("10")
    for doctor in (author, mt):
        cluster.consent.record_consent(doctor, ins)
    declare_medecin_traitant(cluster, mt, ins, patient)
    cluster.dossier.add_document(author, ins, submission(b"%PDF-1.4 ferme"))
    eventually(lambda: cluster.audit.history(author, ins)["total"] == 1)
    assert cluster.audit.history(mt, ins)["total"] > 0

    for transition, event in (
        ("close", "dossier_closed"),
        ("request_deletion", "dossier_deletion_requested"),
    ):
        getattr(cluster.dossier, transition)(patient, ins)
        eventually(
            lambda: event in {t["type"] for t in cluster.audit.history(patient, ins)["traces"]}  # noqa: B023
        )
        for professional in (mt, author):
            with pytest.raises(AccessDenied) as refused:
                cluster.audit.history(professional, ins)
            assert refused.value.details[0]["rule"] == "R-DOSSIER-CLOSED"
            with pytest.raises(AccessDenied):
                cluster.audit.history(
                    professional, ins, {"format": "fhir", "action": "document_added"}
                )
        rest = api.get(f"/api/v1/patients/{ins}/history/fhir", headers=bearer(mt))
        assert rest.status_code == 403 and "R-DOSSIER-CLOSED" in rest.text
        assert walk(cluster, stranger, ins) == (
            [],
            0,
        )  # told nothing, as of any dossier they wrote nothing in
        # The patient keeps their own history, and it holds the refusals.
        refusals = [t for t in walk(cluster, patient, ins)[0] if t["rule"] == "R-DOSSIER-CLOSED"]
        assert {t["actor"]["id"] for t in refusals} == {verify_id(mt), verify_id(author)}
        if transition == "close":
            cluster.dossier.reopen(patient, ins)

            def readable_again() -> bool:  # audit learns of the reopening by its event
                try:
                    return bool(cluster.audit.history(author, ins)["total"] == 1)
                except AccessDenied:
                    return False

            eventually(readable_again)
            assert cluster.audit.history(mt, ins)["total"] > 0


def verify_id(token: str) -> str:
    from services.common.tokens import verify

    return verify(token, Settings.load()).id
