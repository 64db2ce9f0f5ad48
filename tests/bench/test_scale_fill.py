"""The scale benchmark's large store, grown by copies inside SQLite from a seed written over the wire,
holds what the services would read: every dossier once, under its own INS, found through the indexes,
with its documents and their dates (so that the 1,000,000-dossier figures measure a real store)."""

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from bench import trails
from bench.common import devstore
from bench.scale import fill, replicate, synthetic_ins
from services.audit.chain import first_break
from services.common.settings import Settings

pytestmark = pytest.mark.real  # embedded store servers of their own


def test_a_store_grown_by_copies_reads_like_one_written_over_the_wire(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DMP_MONGO_DATABASE_PREFIX", "grown")
    data = tmp_path / "mongo"
    with devstore(data, tmp_path / "log") as uri:
        fill(uri, 20, 2)
    replicate(data / f"{Settings.load().database_name('dossier')}.db", 20, 300, 2)
    with devstore(data, tmp_path / "log") as uri:
        client: MongoClient[dict[str, Any]] = MongoClient(uri, tz_aware=True)
        database = client[Settings.load().database_name("dossier")]
        assert database.dossiers.count_documents({}) == 300
        assert len({d["_id"] for d in database.documents.find({}, {"_id": 1})}) == 600
        copy = database.dossiers.find_one({"ins": synthetic_ins(257)})
        assert (
            copy is not None
            and copy["_id"] == "dos_gen000000257"
            and copy["patient_id"] == "pat_gen000000257"
        )
        documents = list(database.documents.find({"dossier_id": "dos_gen000000257"}))
        assert len(documents) == 2 and {d["patient_id"] for d in documents} == {"pat_gen000000257"}
        for document in documents:
            assert isinstance(document["created_at"], datetime)
            assert int(document["created_at"].timestamp() * 1000) == document["created_ms"]
        copied, seed = (
            database.documents.find_one({"_id": f"doc_gen{n:010d}"}) for n in (514, 514 % 40)
        )
        assert (
            copied is not None and seed is not None
        )  # document 514 is the first of dossier 257, made of seed 34
        assert (
            copied["created_ms"] == seed["created_ms"] - 257 * 60_000
            and copied["title"] == seed["title"]
        )
        assert len({d["sha256"] for d in database.documents.find({}, {"sha256": 1})}) == 600
        client.close()


def test_traces_and_deliveries_grown_by_copies_land_in_their_own_chains(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DMP_MONGO_DATABASE_PREFIX", "grown")
    data = tmp_path / "mongo"
    with devstore(data, tmp_path / "log") as uri:
        trails.fill_trails(uri, 40)
        trails.fill_deliveries(uri, 40)
    trails.replicate(data, 40, 300)
    with devstore(data, tmp_path / "log") as uri:
        client: MongoClient[dict[str, Any]] = MongoClient(uri, tz_aware=True)
        audit = client[Settings.load().database_name("audit")]
        assert (
            audit.traces.count_documents({}) == 300 and audit.chain_heads.count_documents({}) == 15
        )
        chain = list(audit.traces.find({"chain": "pat_gen000000012"}).sort("seq", 1))
        assert [t["seq"] for t in chain] == list(
            range(1, 21)
        )  # copies 240-259, each at its own place
        assert {t["patient_id"] for t in chain} == {"pat_gen000000012"} and chain[0][
            "_id"
        ] == "evt_gen0000000240"
        head = audit.chain_heads.find_one({"_id": "pat_gen000000012"})
        assert head is not None and head["seq"] == 20
        # the seed's chains are whole, as audit would write them
        seed = list(audit.traces.find({"chain": "pat_gen000000001"}).sort("seq", 1))
        assert first_break("pat_gen000000001", seed)[0] is None
        notify = client[Settings.load().database_name("notify")]
        assert notify.deliveries.count_documents({}) == 300
        copy = notify.deliveries.find_one({"_id": "evt_gen0000000257:patient:email"})
        assert (
            copy is not None
            and copy["patient_id"] == "pat_gen000000012"
            and copy["status"] in {"sent", "failed"}
        )
        assert (
            notify.deliveries.count_documents({"status": "pending"}) == 0
        )  # nothing due: the retry job idles
        client.close()
