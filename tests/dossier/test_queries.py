"""The grant as a Mongo query (lists) and as a predicate (one document) must agree, on the real store."""

import uuid
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymongo import MongoClient

from services.common.grants import Action, Grant
from services.common.matching import matches
from services.dossier.queries import after, document_query, encode_cursor

NOW = datetime(2026, 11, 23, tzinfo=UTC)
GRANTS = {
    "patient": Grant(allowed=True, action=Action.READ, rule="R-HOLDER", reason="", categories=("10", "11", "42", "90"),
                     hidden_visibility=("INVISIBLE_PATIENT",), decided_at=NOW),
    "professional": Grant(allowed=True, action=Action.READ, rule="R-CONSENT", reason="", categories=("10", "42"),
                          hidden_visibility=("MASQUE_PS",), decided_at=NOW),
    "medecin_traitant": Grant(allowed=True, action=Action.READ, rule="R-MEDECIN-TRAITANT", reason="",
                              categories=("10", "11", "42", "90"), decided_at=NOW),
}
CODES = ["MASQUE_PS", "INVISIBLE_PATIENT", "INVISIBLE_REPRESENTANTS_LEGAUX"]
documents = st.lists(st.fixed_dictionaries({
    "category": st.sampled_from(["10", "11", "42", "90"]),
    "visibility": st.lists(st.sampled_from(CODES), unique=True, max_size=2),
    "author": st.sampled_from(["rpps:A", "rpps:B"]),
}), min_size=1, max_size=12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(documents, st.sampled_from(sorted(GRANTS)), st.sampled_from(["rpps:A", "pat_1"]))
def test_query_and_predicate_agree(mongo_uri: str, docs: list[dict[str, Any]], who: str, actor_id: str) -> None:
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri)
    collection = client[f"q{uuid.uuid4().hex[:10]}"]["documents"]
    records = [{"_id": f"doc{n:02d}", "dossier_id": "dos", "status": "current", "category": d["category"],
                "visibility": d["visibility"], "author": {"id": d["author"]}} for n, d in enumerate(docs)]
    collection.insert_many(records)
    grant = GRANTS[who]
    by_query = {r["_id"] for r in collection.find(document_query("dos", grant, actor_id))}
    by_predicate = {r["_id"] for r in records
                    if grant.for_document(actor_id, r["category"], r["visibility"], r["author"]["id"]).allowed}
    client.drop_database(collection.database.name)
    assert by_query == by_predicate


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(documents, st.sampled_from(sorted(GRANTS)), st.sampled_from(["rpps:A", "pat_1"]), st.integers(0, 12))
def test_filter_applied_by_the_service_agrees_with_the_store(
    mongo_uri: str, docs: list[dict[str, Any]], who: str, actor_id: str, cut: int
) -> None:
    """The dossier's list queries are evaluated on fetched records (services/common/matching.py): the same
    filter, with a page cursor, selects what the real store selects."""
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri)
    collection = client[f"q{uuid.uuid4().hex[:10]}"]["documents"]
    records = [{"_id": f"doc{n:02d}", "dossier_id": "dos", "status": "current", "category": d["category"],
                "created_ms": 1000 + n // 2, "visibility": d["visibility"], "author": {"id": d["author"]}}
               for n, d in enumerate(docs)]
    collection.insert_many(records)
    query = document_query("dos", GRANTS[who], actor_id)
    if cut < len(records):
        query = after(query, encode_cursor(records[cut]))
    by_store = {r["_id"] for r in collection.find(query)}
    client.drop_database(collection.database.name)
    assert {r["_id"] for r in records if matches(r, query)} == by_store
