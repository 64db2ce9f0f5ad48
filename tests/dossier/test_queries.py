"""The grant as a Mongo query (lists) and as a predicate (one document) must agree, on the real store."""

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from pymongo import MongoClient

from services.common.grants import Action, Grant
from services.common.matching import matches
from services.dossier.queries import (
    CODED,
    after,
    coded_as,
    document_query,
    encode_cursor,
    name_key,
)
from services.dossier.schemas import DocumentSearch
from services.dossier.store import search_selection
from services.gateway.fhir_search import parse

NOW = datetime(2026, 11, 23, tzinfo=UTC)
GRANTS = {
    "patient": Grant(
        allowed=True,
        action=Action.READ,
        rule="R-HOLDER",
        reason="",
        categories=("10", "11", "42", "90"),
        hidden_visibility=("INVISIBLE_PATIENT",),
        decided_at=NOW,
    ),
    "professional": Grant(
        allowed=True,
        action=Action.READ,
        rule="R-CONSENT",
        reason="",
        categories=("10", "42"),
        hidden_visibility=("MASQUE_PS",),
        decided_at=NOW,
    ),
    "medecin_traitant": Grant(
        allowed=True,
        action=Action.READ,
        rule="R-MEDECIN-TRAITANT",
        reason="",
        categories=("10", "11", "42", "90"),
        decided_at=NOW,
    ),
}
CODES = ["MASQUE_PS", "INVISIBLE_PATIENT", "INVISIBLE_REPRESENTANTS_LEGAUX"]
documents = st.lists(
    st.fixed_dictionaries(
        {
            "category": st.sampled_from(["10", "11", "42", "90"]),
            "visibility": st.lists(st.sampled_from(CODES), unique=True, max_size=2),
            "author": st.sampled_from(["rpps:A", "rpps:B"]),
        }
    ),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(documents, st.sampled_from(sorted(GRANTS)), st.sampled_from(["rpps:A", "pat_1"]))
def test_query_and_predicate_agree(
    mongo_uri: str, docs: list[dict[str, Any]], who: str, actor_id: str
) -> None:
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri)
    collection = client[f"q{uuid.uuid4().hex[:10]}"]["documents"]
    records = [
        {
            "_id": f"doc{n:02d}",
            "dossier_id": "dos",
            "status": "current",
            "category": d["category"],
            "visibility": d["visibility"],
            "author": {"id": d["author"]},
        }
        for n, d in enumerate(docs)
    ]
    collection.insert_many(records)
    grant = GRANTS[who]
    by_query = {r["_id"] for r in collection.find(document_query("dos", grant, actor_id))}
    by_predicate = {
        r["_id"]
        for r in records
        if grant.for_document(actor_id, r["category"], r["visibility"], r["author"]["id"]).allowed
    }
    client.drop_database(collection.database.name)
    assert by_query == by_predicate


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    documents,
    st.sampled_from(sorted(GRANTS)),
    st.sampled_from(["rpps:A", "pat_1"]),
    st.integers(0, 12),
)
def test_filter_applied_by_the_service_agrees_with_the_store(
    mongo_uri: str, docs: list[dict[str, Any]], who: str, actor_id: str, cut: int
) -> None:
    """The dossier's list queries are evaluated on fetched records (services/common/matching.py): the same
    filter, with a page cursor, selects what the real store selects."""
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri)
    collection = client[f"q{uuid.uuid4().hex[:10]}"]["documents"]
    records = [
        {
            "_id": f"doc{n:02d}",
            "dossier_id": "dos",
            "status": "current",
            "category": d["category"],
            "created_ms": 1000 + n // 2,
            "visibility": d["visibility"],
            "author": {"id": d["author"]},
        }
        for n, d in enumerate(docs)
    ]
    collection.insert_many(records)
    query = document_query("dos", GRANTS[who], actor_id)
    if cut < len(records):
        query = after(query, encode_cursor(records[cut]))
    by_store = {r["_id"] for r in collection.find(query)}
    client.drop_database(collection.database.name)
    assert {r["_id"] for r in records if matches(r, query)} == by_store


# Tokens as the FHIR facade passes them: system|code, a bare code, system| (any code), |code (no system).
TOKENS = ["S|c0", "S|c1", "c2", "T|", "|c0", "T|c1", "c1", "R|c2", "Q|c0"]


def coded_fields(n: int) -> dict[str, Any]:
    """Stored as the dossier stores them: concepts (codings), a list of concepts, a coding, identifiers."""
    return {
        **(
            {"practice_setting": {"codings": [{"system": "S", "code": f"c{n % 3}"}]}}
            if n % 2
            else {}
        ),
        "facility_type": {
            "codings": [{"system": "S", "code": f"c{n % 2}"}, {"system": "T", "code": "c1"}],
            "text": None,
        }
        if n % 3
        else None,
        "events": [
            {"codings": [{"system": "S", "code": f"c{n % 3}"}]},
            {"codings": [{"system": "T", "code": f"c{n % 4}", "display": "d"}]},
        ][: n % 3],
        "format_code": {"system": "S" if n % 4 else "T", "code": f"c{n % 2}"} if n % 5 else None,
        "related": [{"value": f"c{n % 3}", "system": "R" if n % 2 else None, "type": None}]
        if n % 3
        else [],
    }


def coded_pairs(record: dict[str, Any], field: str) -> list[tuple[str | None, str]]:
    """The (system, code) pairs a record holds in a coded field."""
    value = record.get(field)
    if field in {"practice_setting", "facility_type"}:
        return [(c["system"], c["code"]) for c in value["codings"]] if value else []
    if field == "events":
        return [(c["system"], c["code"]) for event in value or [] for c in event["codings"]]
    if field == "format_code":
        return [(value["system"], value["code"])] if value else []
    return [(related["system"], related["value"]) for related in value or []]


def token_found(token: str, pairs: list[tuple[str | None, str]]) -> bool:
    system, bar, code = token.rpartition("|")
    return any(
        (not bar or held_system == (system or None)) and (not code or held_code == code)
        for held_system, held_code in pairs
    )


searches = st.fixed_dictionaries(
    {},
    optional={
        "categories": st.lists(
            st.sampled_from(["10", "11", "31", "42", "90"]), unique=True, max_size=3
        ),
        "type_codes": st.lists(
            st.sampled_from(["11488-4", "SYNTH", "57833-6"]), unique=True, max_size=2
        ),
        "statuses": st.lists(
            st.sampled_from(["current", "archived", "replaced"]), unique=True, max_size=3
        ),
        "document_ids": st.lists(
            st.sampled_from([f"doc{n:02d}" for n in range(14)]), unique=True, max_size=4
        ),
        "identifiers": st.lists(
            st.sampled_from(
                [
                    *[f"doc_{n:032x}" for n in range(14)],
                    *[f"urn:oid:1.2.{n}" for n in range(14)],
                    *[f"urn:uuid:00000000-0000-0000-0000-{n:012x}" for n in range(14)],
                ]
            ),
            unique=True,
            max_size=4,
        ),
        "patient_id": st.sampled_from(["pat_1", "pat_2"]),
        "created_from_ms": st.integers(1000, 1012),
        "created_before_ms": st.integers(1000, 1012),
        "care_from": st.dates(date(2026, 11, 1), date(2026, 11, 12)),
        "care_to": st.dates(date(2026, 11, 1), date(2026, 11, 12)),
        "security_labels": st.lists(
            st.lists(st.sampled_from(["N", "R", "V", *CODES]), unique=True, max_size=3),
            min_size=1,
            max_size=2,
        ),
        "updated_from_ms": st.integers(1000, 1030),
        "updated_before_ms": st.integers(1000, 1030),
        "replaces": st.lists(st.sampled_from(["doc01", "doc02", "doc04"]), unique=True, max_size=2),
        # Per coded field, groups (ORs of tokens) that AND; "" is an empty OR (matches nothing).
        "coded": st.dictionaries(
            st.sampled_from(sorted(CODED)),
            st.lists(
                st.lists(st.sampled_from(TOKENS), unique=True, max_size=3).map(",".join),
                min_size=1,
                max_size=2,
            ),
            max_size=3,
        ),
    },
)


def derived(document_id: str) -> str:
    """The UUID URN a document whose source gave no unique id answers to."""
    hexa = document_id.removeprefix("doc_")
    return f"urn:uuid:{hexa[:8]}-{hexa[8:12]}-{hexa[12:16]}-{hexa[16:20]}-{hexa[20:]}"


def wanted_by(record: dict[str, Any], search: dict[str, Any]) -> bool:
    """Each search parameter, said plainly."""
    checks: list[tuple[str, Callable[[Any], bool]]] = [
        ("categories", lambda v: record["category"] in v),
        ("type_codes", lambda v: record["type_code"] in v),
        ("statuses", lambda v: record["status"] in v),
        ("document_ids", lambda v: record["_id"] in v),
        (
            "identifiers",
            lambda v: bool(
                {record["_id"], record.get("unique_id") or derived(record["_id"])} & set(v)
            ),
        ),
        ("patient_id", lambda v: record["patient_id"] == v),
        ("created_from_ms", lambda v: record["created_ms"] >= v),
        ("created_before_ms", lambda v: record["created_ms"] < v),
        ("care_from", lambda v: record["care_date"] >= v.isoformat()),
        ("care_to", lambda v: record["care_date"] <= v.isoformat()),
        # Each group: any of its labels; every group.
        (
            "security_labels",
            lambda v: all(
                {record.get("confidentiality", "N"), *record["visibility"]} & set(group)
                for group in v
            ),
        ),
        ("updated_from_ms", lambda v: record.get("updated_ms", record["created_ms"]) >= v),
        ("updated_before_ms", lambda v: record.get("updated_ms", record["created_ms"]) < v),
        ("replaces", lambda v: record.get("replaces") in v),
        # Each group: any of its tokens among the field's pairs; every group of every field.
        (
            "coded",
            lambda v: all(
                any(
                    token_found(token, coded_pairs(record, field))
                    for token in group.split(",")
                    if token
                )
                for field, groups in v.items()
                for group in groups
            ),
        ),
    ]
    statuses_ok = "statuses" in search or record["status"] == "current"  # current by default
    return statuses_ok and all(check(search[name]) for name, check in checks if name in search)


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    documents,
    st.sampled_from(sorted(GRANTS)),
    st.sampled_from(["rpps:A", "pat_1"]),
    searches,
    st.lists(st.sampled_from(["11488-4", "SYNTH", "57833-6"]), min_size=14, max_size=14),
    st.lists(st.sampled_from(["current", "archived", "replaced"]), min_size=14, max_size=14),
)
def test_search_parameters_narrow_the_grant_and_never_widen_it(
    mongo_uri: str,
    docs: list[dict[str, Any]],
    who: str,
    actor_id: str,
    search: dict[str, Any],
    types: list[str],
    statuses: list[str],
) -> None:
    """Every parameter is ANDed to the grant's query: what comes back is exactly what the grant lets this actor
    see and the parameters ask for, on the real store and in the service's own evaluation."""
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri)
    collection = client[f"q{uuid.uuid4().hex[:10]}"]["documents"]
    records = [
        {
            "_id": f"doc{n:02d}" if n % 3 else f"doc_{n:032x}",
            "dossier_id": "dos",
            "status": statuses[n],
            "category": d["category"],
            "type_code": types[n],
            "created_ms": 1000 + n,
            "care_date": f"2026-11-{n + 1:02d}",
            "patient_id": "pat_1",
            "visibility": d["visibility"],
            "author": {"id": d["author"]},
            **({"unique_id": f"urn:oid:1.2.{n}"} if n % 2 else {}),
            # Confidentiality stored or (older records) not; some changed since deposit; some replace another.
            **({"confidentiality": "NRV"[n % 3]} if n % 4 else {}),
            **({"updated_ms": 1015 + n} if n % 5 == 1 else {}),
            **(
                {"replaces": f"doc{n - 1:02d}"}
                if n % 3 == 2
                else {"replaces": None}
                if n % 2
                else {}
            ),
            **coded_fields(n),
        }
        for n, d in enumerate(docs)
    ]
    collection.insert_many(records)
    grant = GRANTS[who]
    query = document_query("dos", grant, actor_id, **search)
    by_store = {r["_id"] for r in collection.find(query)}
    client.drop_database(collection.database.name)
    expected = {
        r["_id"]
        for r in records
        if wanted_by(r, search)
        and grant.for_document(actor_id, r["category"], r["visibility"], r["author"]["id"]).allowed
    }
    assert by_store == expected
    assert {r["_id"] for r in records if matches(r, query)} == expected


def test_a_search_round_trips_as_the_gateway_sends_it() -> None:
    """REST sends every field, unset ones as None; a bare status or type from an RPC caller is a list of one."""
    sent = DocumentSearch().model_dump(mode="json")
    assert DocumentSearch.model_validate(sent) == DocumentSearch()
    assert DocumentSearch.model_validate({"status": "archived", "type_code": "SYNTH"}).status == [
        "archived"
    ]
    with pytest.raises(ValidationError):
        DocumentSearch.model_validate({"document_id": [f"doc{n}" for n in range(101)]})


def test_a_document_answers_to_our_id_to_its_source_unique_id_or_else_to_its_own_uuid_urn() -> None:
    plain: dict[str, Any] = {
        "_id": f"doc_{'a' * 32}",
        "dossier_id": "dos",
        "status": "current",
        "category": "10",
        "visibility": [],
        "author": {"id": "rpps:A"},
    }
    sourced = {**plain, "_id": f"doc_{'b' * 32}", "unique_id": "urn:oid:1.2.250.1.999.1"}
    grant = GRANTS["medecin_traitant"]

    def found(*identifiers: str) -> set[str]:
        query = document_query("dos", grant, "rpps:A", identifiers=list(identifiers))
        return {r["_id"] for r in (plain, sourced) if matches(r, query)}

    assert found(derived(plain["_id"])) == {plain["_id"]}
    assert found(derived(sourced["_id"])) == set()  # its masterIdentifier is its source's
    assert found("urn:oid:1.2.250.1.999.1", plain["_id"]) == {plain["_id"], sourced["_id"]}
    assert found() == set()


def test_security_labels_are_ors_within_a_group_and_ands_across_groups() -> None:
    """A label is a confidentiality code (N when none was stored, as the document is shown) or a visibility code."""
    base: dict[str, Any] = {
        "dossier_id": "dos",
        "status": "current",
        "category": "10",
        "author": {"id": "rpps:A"},
    }
    records = [
        {**base, "_id": "old", "visibility": []},  # stored before confidentiality was: normal
        {
            **base,
            "_id": "restricted",
            "confidentiality": "R",
            "visibility": ["INVISIBLE_REPRESENTANTS_LEGAUX"],
        },
        {**base, "_id": "very", "confidentiality": "V", "visibility": []},
    ]
    grant = GRANTS["medecin_traitant"]

    def found(*groups: list[str]) -> set[str]:
        query = document_query("dos", grant, "rpps:A", security_labels=list(groups))
        return {r["_id"] for r in records if matches(r, query)}

    assert found(["N"]) == {"old"}
    assert found(["R", "V"]) == {"restricted", "very"}
    assert found(["INVISIBLE_REPRESENTANTS_LEGAUX"]) == {"restricted"}
    assert found(["N", "INVISIBLE_REPRESENTANTS_LEGAUX"]) == {"old", "restricted"}
    assert found(["R", "V"], ["INVISIBLE_REPRESENTANTS_LEGAUX"]) == {"restricted"}
    assert found(["V"], ["R"]) == set()  # one confidentiality each
    assert found([]) == set()  # an empty OR: nothing
    assert found() == {"old", "restricted", "very"}


def test_last_change_is_the_metadata_change_or_else_the_deposit() -> None:
    base: dict[str, Any] = {
        "dossier_id": "dos",
        "status": "current",
        "category": "10",
        "visibility": [],
        "author": {"id": "rpps:A"},
    }
    records = [
        {**base, "_id": "untouched", "created_ms": 1000},
        {**base, "_id": "masked_later", "created_ms": 900, "updated_ms": 2000},
    ]
    grant = GRANTS["medecin_traitant"]

    def found(since: int | None, before: int | None) -> set[str]:
        query = document_query(
            "dos", grant, "rpps:A", updated_from_ms=since, updated_before_ms=before
        )
        return {r["_id"] for r in records if matches(r, query)}

    assert found(1000, None) == {"untouched", "masked_later"}
    assert found(None, 1000) == set()  # the older deposit changed since
    assert found(1500, None) == {"masked_later"}
    assert found(None, 1001) == {"untouched"}


def test_security_label_values_are_comma_separated_labels() -> None:
    assert DocumentSearch.model_validate({"security_label": "R,V"}).security_label == ["R,V"]
    assert DocumentSearch.model_validate({"security_label": [""]}).security_label == [""]
    for bad in (["r"], ["R,"], ["R;V"], [], ["R"] * 11):
        with pytest.raises(ValidationError):
            DocumentSearch.model_validate({"security_label": bad})


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(searches.filter(lambda search: "coded" in search).map(lambda search: search["coded"]))
def test_coded_searches_find_what_the_codes_say_on_the_store_and_in_the_service(
    mongo_uri: str, coded: dict[str, list[str]]
) -> None:
    """The coded parameters alone, over documents holding every kind of code: the real store and the
    service's own evaluation find exactly the documents with a (system, code) pair of every group."""
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri)
    collection = client[f"q{uuid.uuid4().hex[:10]}"]["documents"]
    records = [
        {
            "_id": f"doc{n:02d}",
            "dossier_id": "dos",
            "status": "current",
            "category": "10",
            "visibility": [],
            "author": {"id": "rpps:A"},
            **coded_fields(n),
        }
        for n in range(12)
    ]
    collection.insert_many(records)
    query = document_query("dos", GRANTS["medecin_traitant"], "rpps:A", coded=coded)
    by_store = {r["_id"] for r in collection.find(query)}
    client.drop_database(collection.database.name)
    expected = {r["_id"] for r in records if wanted_by(r, {"coded": coded})}
    assert by_store == expected
    assert {r["_id"] for r in records if matches(r, query)} == expected


def test_a_coded_token_names_a_system_and_code_pair_never_a_system_of_one_and_code_of_another() -> (
    None
):
    """`S|c1` is one coding (S, c1): a concept holding (S, c0) and (T, c1) does not have it."""
    record = {
        "facility_type": {"codings": [{"system": "S", "code": "c0"}, {"system": "T", "code": "c1"}]}
    }
    assert matches(record, coded_as("facility_type", "T|c1"))
    assert not matches(record, coded_as("facility_type", "S|c1"))
    assert matches(record, coded_as("facility_type", "S|c1,c0"))  # a comma is an OR
    assert not matches(record, coded_as("facility_type", ""))  # an empty OR matches nothing
    events = {
        "events": [
            {"codings": [{"system": "S", "code": "a"}]},
            {"codings": [{"system": "T", "code": "b"}]},
        ]
    }
    assert matches(events, {"$and": [coded_as("events", "S|a"), coded_as("events", "T|b")]})
    assert not matches(events, coded_as("events", "S|b"))
    related = {"related": [{"value": "ACC-1", "system": "urn:oid:1.2.3", "type": None}]}
    assert matches(related, coded_as("related", "urn:oid:1.2.3|ACC-1"))
    assert not matches(related, coded_as("related", "urn:oid:1.2.4|ACC-1"))


# Periods of care (care_date, care_end) around 2026-11-20: FHIR's `period` compares them as ranges.
PERIODS = {
    "ongoing": ("2026-11-10", None),
    "before": ("2026-11-18", "2026-11-19"),
    "within": ("2026-11-20", "2026-11-20T18:00:00+01:00"),
    "across": ("2026-11-19", "2026-11-21"),
    "after": ("2026-11-22", "2026-11-23"),
}


@pytest.mark.parametrize(
    ("values", "found"),
    [
        (["2026-11-20"], {"within"}),  # eq: lies within the day (an ongoing one never does)
        (["eq2026-11-20"], {"within"}),
        (
            ["ge2026-11-20"],
            {"ongoing", "within", "across", "after"},
        ),  # ends on or after it, or ongoing
        (["gt2026-11-20"], {"ongoing", "across", "after"}),  # goes on after it
        (["le2026-11-20"], {"ongoing", "before", "within", "across"}),  # started by its end
        (["lt2026-11-20"], {"ongoing", "before", "across"}),  # started before it
        (["sa2026-11-20"], {"after"}),  # starts after it
        (["eb2026-11-20"], {"before"}),  # ended before it
        (["eq2026-11"], {"before", "within", "across", "after"}),  # at the value's precision
        (["ge2026-11-19", "le2026-11-20"], {"ongoing", "before", "within", "across"}),  # ANDed
        (["sa2026-11-19", "eb2026-11-24"], {"within", "after"}),
    ],
)
def test_period_compares_the_period_of_care_as_a_range_per_fhir_prefix(
    mongo_uri: str, values: list[str], found: set[str]
) -> None:
    """FHIR date search on a Period (context.period: the date of care to care_end, ongoing without one), from
    the facade's parameter to the dossier's one query: the service's evaluation and the real store agree."""
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri)
    collection = client[f"q{uuid.uuid4().hex[:10]}"]["documents"]
    records: list[dict[str, Any]] = [
        {
            "_id": name,
            "dossier_id": "dos",
            "status": "current",
            "category": "10",
            "visibility": [],
            "author": {"id": "rpps:A"},
            "care_date": start,
            "care_end": end,
        }
        for name, (start, end) in PERIODS.items()
    ]
    collection.insert_many(records)
    searched = parse([("patient.identifier", "x"), *(("period", value) for value in values)])
    search = DocumentSearch.model_validate(searched.query)
    query = search_selection("dos", GRANTS["medecin_traitant"], "rpps:A", search)
    by_store = {r["_id"] for r in collection.find(query)}
    client.drop_database(collection.database.name)
    assert {r["_id"] for r in records if matches(r, query)} == found
    assert by_store == found


def test_an_author_name_is_a_prefix_case_and_accents_aside_on_the_store_and_in_the_service(
    mongo_uri: str,
) -> None:
    """The name search keys (queries.name_key) as the store keeps them: the real store finds what the
    service's evaluation finds; a document kept without its author's name matches no name."""
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri)
    collection = client[f"q{uuid.uuid4().hex[:10]}"]["documents"]
    names: dict[str, tuple[str, str] | None] = {
        "elodie": ("Élodie", "Le Gall"),
        "eloi": ("Éloi", "Lefèvre"),
        "none": None,
    }
    records: list[dict[str, Any]] = [
        {
            "_id": key,
            "dossier_id": "dos",
            "status": "current",
            "category": "10",
            "visibility": [],
            "author": {"id": "rpps:A"},
            **(
                {
                    "author_name": {
                        "given": name[0],
                        "family": name[1],
                        "given_key": name_key(name[0]),
                        "family_key": name_key(name[1]),
                    }
                }
                if name
                else {}
            ),
        }
        for key, name in names.items()
    ]
    collection.insert_many(records)
    for names_searched, expected in (
        ({"given": ["ELO"]}, {"elodie", "eloi"}),
        ({"given": ["elod,x"]}, {"elodie"}),
        ({"family": ["lefe"]}, {"eloi"}),
        ({"family": ["le", "le g"]}, {"elodie"}),
        ({"family_exact": ["Le Gall"]}, {"elodie"}),
        ({"family_exact": ["le gall"]}, set()),
        ({"given": [","]}, set()),
    ):
        query = document_query("dos", GRANTS["medecin_traitant"], "rpps:A", names=names_searched)
        assert {r["_id"] for r in collection.find(query)} == expected, names_searched
        assert {r["_id"] for r in records if matches(r, query)} == expected, names_searched
    client.drop_database(collection.database.name)
