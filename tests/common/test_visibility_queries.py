"""One visibility rule for documents and their traces: the predicate (Grant.for_document), the query for
lists (visible_to) and the query for the history's hidden documents (hidden_from) agree, on the real store
and on fetched records (common/matching.py)."""

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pymongo import MongoClient

from services.common.grants import (
    Action,
    Grant,
    hidden_from,
    visible_to,
)
from services.common.matching import matches

pytestmark = (
    pytest.mark.store
)  # the stores' contract: `make test-store MONGO_URI=...` runs it on any MongoDB

NOW = datetime(2026, 12, 1, tzinfo=UTC)
CODES = ["MASQUE_PS", "INVISIBLE_PATIENT", "INVISIBLE_REPRESENTANTS_LEGAUX"]
HIDDEN = {  # what consent's rules give each audience (consent/rules.py hidden_from)
    "holder": ("INVISIBLE_PATIENT",),
    "representative": ("INVISIBLE_PATIENT", "INVISIBLE_REPRESENTANTS_LEGAUX"),
    "professional": ("MASQUE_PS",),
    "medecin_traitant": (),
}
documents = st.lists(
    st.fixed_dictionaries(
        {
            "visibility": st.lists(st.sampled_from(CODES), unique=True, max_size=3),
            "author": st.sampled_from(["rpps:A", "rpps:B"]),
        }
    ),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(documents, st.sampled_from(sorted(HIDDEN)), st.sampled_from(["rpps:A", "pat_1"]))
def test_the_history_hides_exactly_the_documents_the_dossier_hides(
    mongo_uri: str, docs: list[dict[str, Any]], who: str, actor_id: str
) -> None:
    grant = Grant(
        allowed=True,
        action=Action.READ_HISTORY,
        rule="R-X",
        reason="",
        categories=("10",),
        hidden_visibility=HIDDEN[who],
        decided_at=NOW,
    )
    records = [
        {
            "_id": f"doc{n:02d}",
            "patient_id": "pat_1",
            "visibility": d["visibility"],
            "author": {"id": d["author"]},
        }
        for n, d in enumerate(docs)
    ]
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri)
    collection = client[f"v{uuid.uuid4().hex[:10]}"]["documents"]
    collection.insert_many(records)
    by_predicate = {
        r["_id"]
        for r in records
        if not grant.for_document(actor_id, "10", r["visibility"], r["author"]["id"]).allowed
    }
    visible = {r["_id"] for r in collection.find(visible_to(grant, actor_id))}
    hidden_query = hidden_from(grant, actor_id)
    hidden = set() if hidden_query is None else {r["_id"] for r in collection.find(hidden_query)}
    client.drop_database(collection.database.name)
    assert hidden == by_predicate == {r["_id"] for r in records} - visible
    assert hidden == (
        {r["_id"] for r in records if matches(r, hidden_query)} if hidden_query else set()
    )
