"""The reimbursement feed over the real broker and store, and its operator import."""

import csv
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from services.common.cards import Card
from services.common.clock import utcnow
from services.common.errors import AccessDenied
from services.dossier.feed_import import BATCH
from tests.conftest import People, service_database
from tests.journeys import eventually


@pytest.fixture
def feed_key(cluster: Any, tmp_path: Path) -> Path:
    card = Card()
    cluster.identity.register_system(
        {"client_id": "reimbursement-feed", "public_key": card.public_pem}
    )
    path = tmp_path / "feed.pem"
    card.save(path)
    return path


@pytest.fixture
def feed(cluster: Any, feed_key: Path) -> str:
    nonce = cluster.identity.request_card_challenge(
        {"actor_id": "system:reimbursement-feed"}, "test"
    )["nonce"]
    answer = cluster.identity.login_with_card(
        {
            "actor_id": "system:reimbursement-feed",
            "nonce": nonce,
            "signature": Card.load(feed_key).sign(nonce),
        },
        "t",
    )
    token: str = answer["access_token"]
    return token


def line(line_id: str, ins: str, days_ago: int = 10, **overrides: Any) -> dict[str, Any]:
    care = (utcnow() - timedelta(days=days_ago)).date().isoformat()
    return {
        "line_id": line_id,
        "ins": ins,
        "care_date": care,
        "items": [{"system": "CIP13", "code": "3400930000000"}],
        "prescriber_rpps": "10000000009",
        "billed_cents": 1000,
        "reimbursed_cents": 650,
        **overrides,
    }


def test_feed_accepts_lines_idempotently_and_reports_each_refusal(
    cluster: Any, people: People, feed: str
) -> None:
    ins, patient = people.patient()
    cluster.dossier.open(patient, {"ins": ins})
    without_dossier, _ = people.patient()
    batch = {
        "lines": [
            line("A1", ins),
            line("A2", ins, days_ago=40),
            line("A3", ins, days_ago=800),
            line("A4", without_dossier),
            line("A5", ins, billed_cents="lots"),
        ]
    }
    report = cluster.dossier.add_reimbursements(feed, batch)
    assert report["accepted"] == 2 and report["duplicates"] == 0
    reasons = {r["line_id"]: r["reason"] for r in report["rejected"]}
    assert set(reasons) == {"A3", "A4", "A5"}
    assert (
        "24 months" in reasons["A3"]
        and "no open dossier" in reasons["A4"]
        and "billed_cents" in reasons["A5"]
    )
    again = cluster.dossier.add_reimbursements(feed, batch)
    assert again["accepted"] == 0 and again["duplicates"] == 2

    lines = cluster.dossier.reimbursements(patient, ins)
    assert lines["total"] == 2 and [x["line_id"] for x in lines["lines"]] == [
        "A1",
        "A2",
    ]  # newest care first
    assert lines["lines"][0]["items"] == [
        {"system": "CIP13", "code": "3400930000000", "quantity": 1}
    ]


def test_lines_are_shown_under_the_matrix(cluster: Any, people: People, feed: str) -> None:
    ins, patient = people.patient()
    cluster.dossier.open(patient, {"ins": ins})
    cluster.dossier.add_reimbursements(feed, {"lines": [line("B1", ins)]})
    _, doctor = people.professional("10")
    _, pharmacist = people.professional("21")
    for token in (doctor, pharmacist):
        cluster.consent.record_consent(token, ins)
    assert cluster.dossier.reimbursements(doctor, ins)["total"] == 1  # médecins read class 60
    with pytest.raises(AccessDenied) as error:
        cluster.dossier.reimbursements(
            pharmacist, ins
        )  # not in the pharmacists' row (deny by default)
    assert error.value.details == [{"rule": "R-MATRIX-CATEGORY"}]


def test_only_the_feed_sends_lines(cluster: Any, people: People) -> None:
    ins, patient = people.patient()
    _, doctor = people.professional()
    for token in (patient, doctor):
        with pytest.raises(AccessDenied) as error:
            cluster.dossier.add_reimbursements(token, {"lines": [line("C1", ins)]})
        assert error.value.details == [{"rule": "R-FEED-ONLY"}]


def test_feed_additions_are_traced_per_dossier(
    cluster: Any, people: People, feed: str, environment: dict[str, str]
) -> None:
    ins, patient = people.patient()
    cluster.dossier.open(patient, {"ins": ins})
    cluster.dossier.add_reimbursements(
        feed, {"lines": [line("D1", ins), line("D2", ins, days_ago=3)]}
    )
    traces = service_database(environment, "audit").traces
    assert eventually(
        lambda: traces.find_one({"type": "reimbursements_added", "data.lines": "2"}) is not None
    )


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_operator_imports_a_file_of_many_batches_in_one_run_and_again_with_no_effect(
    cluster: Any, people: People, feed_key: Path, tmp_path: Path, environment: dict[str, str]
) -> None:
    from nameko import config

    # Five of the command's batches: enough to cross batch boundaries; the volume (the back-fill of 10,000
    # dossiers' 24 months) is bench/backfill.py's.
    lines = 5 * BATCH
    patients = []
    for _ in range(20):
        ins, token = people.patient()
        cluster.dossier.open(token, {"ins": ins})
        patients.append(ins)
    path = tmp_path / "lines.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "line_id",
                "ins",
                "care_date",
                "items",
                "prescriber_rpps",
                "billed_cents",
                "reimbursed_cents",
            ]
        )
        care = (utcnow() - timedelta(days=30)).date().isoformat()
        for n in range(lines):
            writer.writerow(
                [
                    f"L{n:06d}",
                    patients[n % len(patients)],
                    care,
                    "CCAM:QZJA002|CIP13:3400930000000x2",
                    "",
                    2500,
                    1750,
                ]
            )
        writer.writerow(["BAD1", patients[0], "2001-01-01", "CCAM:QZJA002", "", 100, 50])

    def run_import() -> str:
        command = [
            sys.executable,
            "-m",
            "services.dossier.feed_import",
            str(path),
            "--key",
            str(feed_key),
        ]
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
            env={**environment, "AMQP_URI": config["AMQP_URI"], "PATH": "/usr/bin:/bin"},
        )
        return done.stdout

    first = run_import()
    assert f"{lines + 1} lines: {lines} accepted, 0 duplicates, 1 rejected" in first
    assert "older than 24 months" in first
    second = run_import()
    assert f"{lines + 1} lines: 0 accepted, {lines} duplicates, 1 rejected" in second
    assert service_database(environment, "dossier").reimbursements.count_documents({}) == lines
