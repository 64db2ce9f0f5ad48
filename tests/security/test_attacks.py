"""Attacks over HTTP on the whole system: each one is refused AND leaves a trace in the audit trail.

Refusals with a known actor land in the patient's chain (the patient's history shows them, except the
traces of documents still invisible to the patient); refused tokens speak for nobody and land in the
trail's system chain (services/gateway/refusals.py), found here by the request id of the refused call.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import jwt
import pytest
from pymongo import MongoClient
from pymongo.collection import Collection

from services.common.clock import utcnow
from services.common.keys import SigningKey
from services.common.settings import Settings
from tests.journeys import eventually
from tests.mailbox import LOGIN_CODE
from tests.system import Api, Running, document

pytestmark = pytest.mark.slow
Headers = dict[str, str]


@pytest.fixture(scope="module")
def traces(system: Running) -> Iterator[Collection[dict[str, Any]]]:
    """The audit trail itself (what an auditor reads), to find traces no HTTP history shows."""
    client: MongoClient[dict[str, Any]] = MongoClient(system.stack.env["MONGO_URI"], tz_aware=True)
    yield client[f"{system.stack.env['DMP_MONGO_DATABASE_PREFIX']}_audit"].traces
    client.close()


def signed(secrets: dict[str, str], **changes: Any) -> str:
    """A token signed with identity's real key, with claims changed (None removes a claim)."""
    key = SigningKey.parse(secrets["DMP_TOKEN_SIGNING_KEY"])
    settings, now = Settings.load(), utcnow()
    claims: dict[str, Any] = {
        "iss": settings.token_issuer,
        "aud": settings.token_audience,
        "sub": "pat_attacker",
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=5)).timestamp()),
        "jti": uuid.uuid4().hex,
        "sid": f"ses_{uuid.uuid4().hex}",
        "act": {"kind": "patient", "id": "pat_attacker", "ins": "180017512345660"},
    }
    claims.update(changes)
    return jwt.encode(
        {k: v for k, v in claims.items() if v is not None},
        key.private_key,
        algorithm="EdDSA",
        headers={"kid": key.kid},
    )


def bearer(token: str) -> Headers:
    return {"Authorization": f"Bearer {token}"}


def history_of(http: httpx.Client, ins: str, patient: Headers) -> list[dict[str, Any]]:
    response = http.get(f"/api/v1/patients/{ins}/history", params={"limit": 100}, headers=patient)
    assert response.status_code == 200, response.text
    traces: list[dict[str, Any]] = response.json()["traces"]
    return traces


def count(history: list[dict[str, Any]], rule: str, actor: str) -> int:
    return len(
        [
            t
            for t in history
            if t["outcome"] == "denied"
            and t["rule"] == rule
            and (t["actor"] or {}).get("id") == actor
        ]
    )


def refusal_traced(
    http: httpx.Client, ins: str, patient: Headers, actor_id: str, rule: str
) -> dict[str, Any]:
    """The access_denied trace of this actor under this rule, as the patient's history shows it."""

    def found() -> dict[str, Any]:
        return next(
            (
                t
                for t in history_of(http, ins, patient)
                if t["type"] == "access_denied"
                and t["outcome"] == "denied"
                and t["rule"] == rule
                and (t["actor"] or {}).get("id") == actor_id
            ),
            {},
        )

    return eventually(found)


def token_refusal_traced(
    traces: Collection[dict[str, Any]], response: httpx.Response
) -> dict[str, Any]:
    request_id = response.headers["X-Request-ID"]
    trace = eventually(
        lambda: (
            traces.find_one({"type": "authentication_refused", "data.request_id": request_id}) or {}
        )
    )
    assert trace["chain"] == "system" and trace["outcome"] == "denied" and trace["actor"] is None
    return trace


def actor_id(headers: Headers) -> str:
    """The actor id a token speaks for, as identity issued it (read back without trusting it)."""
    token = headers["Authorization"].split(" ", 1)[1]
    return str(jwt.decode(token, options={"verify_signature": False})["sub"])


@pytest.fixture(scope="module")
def dossier(system: Running) -> tuple[str, Headers, Headers]:
    """(ins, patient, doctor with consent) and one document."""
    api = Api(system.http, system.mailbox)
    ins, patient, doctor = api.dossier_with_consenting_doctor("attaque@patients.dmp-test.fr")
    added = system.http.post(
        f"/api/v1/patients/{ins}/documents", json=document(b"%PDF-1.4 cible"), headers=doctor
    )
    assert added.status_code == 201
    return ins, patient, doctor


# Tokens: forged, expired, unsigned, for another audience, of kinds that have no access at all.


@pytest.mark.parametrize(
    "attack",
    [
        "forged",
        "expired",
        "alg_none",
        "wrong_audience",
        "wrong_issuer",
        "insurer",
        "employer",
        "tampered",
    ],
)
def test_a_bad_token_is_refused_and_traced_without_an_actor(
    system: Running,
    secrets: dict[str, str],
    dossier: tuple[str, Headers, Headers],
    traces: Collection[dict[str, Any]],
    attack: str,
) -> None:
    ins, _, doctor = dossier
    now = int(utcnow().timestamp())
    real = doctor["Authorization"].split(" ", 1)[1]
    tokens = {
        # same claims, same kid, another private key
        "forged": jwt.encode(
            jwt.decode(real, options={"verify_signature": False}),
            SigningKey.generate("test").private_key,
            algorithm="EdDSA",
            headers={"kid": "test"},
        ),
        "expired": signed(secrets, iat=now - 7200, nbf=now - 7200, exp=now - 3600),
        "alg_none": jwt.encode(
            jwt.decode(real, options={"verify_signature": False}),
            key=None,  # type: ignore[arg-type]
            algorithm="none",
            headers={"kid": "test"},
        ),
        "wrong_audience": signed(secrets, aud="another-service"),
        "wrong_issuer": signed(secrets, iss="https://attacker.example"),
        "insurer": signed(
            secrets, sub="insurer:mutuelle-x", act={"kind": "insurer", "id": "insurer:mutuelle-x"}
        ),
        "employer": signed(
            secrets, sub="employer:acme", act={"kind": "employer", "id": "employer:acme"}
        ),
        "tampered": ".".join(
            [real.split(".")[0], signed(secrets).split(".")[1], real.split(".")[2]]
        ),
    }
    response = system.http.get(f"/api/v1/patients/{ins}/documents", headers=bearer(tokens[attack]))
    assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"
    trace = token_refusal_traced(traces, response)
    assert trace["data"]["route"].endswith(
        "/patients/{ins}/documents"
    )  # the route template, never the INS
    assert ins not in str(trace) and tokens[attack] not in str(trace)


def test_an_unknown_profession_code_gets_nothing_and_is_traced(
    system: Running,
    secrets: dict[str, str],
    dossier: tuple[str, Headers, Headers],
) -> None:
    """A validly signed professional token with a profession no matrix row knows (what an insurer's
    "medical adviser" would need): refused by consent, traced in the patient's chain."""
    ins, patient, _ = dossier
    impostor = {
        "kind": "professional",
        "id": "rpps:10000000009",
        "rpps": "10000000009",
        "profession": "99",
    }
    headers = bearer(signed(secrets, sub=impostor["id"], act=impostor))
    assert system.http.post(f"/api/v1/patients/{ins}/consents", headers=headers).status_code == 201
    response = system.http.get(f"/api/v1/patients/{ins}/documents", headers=headers)
    assert response.status_code == 403 and response.json()["errors"] == [{"rule": "R-MATRIX"}]
    refusal_traced(system.http, ins, patient, impostor["id"], "R-MATRIX")


# People who are someone, but not allowed here.


def test_patient_a_on_patient_bs_dossier(
    system: Running, api: Api, dossier: tuple[str, Headers, Headers]
) -> None:
    ins, patient, _ = dossier
    other_ins, other = api.patient("intrus@patients.dmp-test.fr")
    assert (
        system.http.post("/api/v1/dossiers", json={"ins": other_ins}, headers=other).status_code
        == 201
    )
    for path in ("/documents", "/history", "/personal-space", "/access-settings"):
        response = system.http.get(f"/api/v1/patients/{ins}{path}", headers=other)
        assert response.status_code == 403, (path, response.text)
        assert response.json()["errors"][0]["rule"] == "R-OTHER-PATIENT"
    blocked = system.http.post(
        f"/api/v1/patients/{ins}/blocks",
        json={"professional_id": "rpps:10000000009"},
        headers=other,
    )
    assert blocked.status_code == 403
    contact = system.http.post(
        f"/api/v1/patients/{ins}/contact", json={"email": "intrus@attaque.example"}, headers=other
    )
    assert contact.status_code == 403 and contact.json()["errors"][0]["rule"] == "R-HOLDER-ONLY"
    intruder = actor_id(other)
    # documents, history, personal space, settings, block, contact: each refusal traced in the victim's chain
    eventually(
        lambda: (
            count(history_of(system.http, ins, patient), "R-OTHER-PATIENT", intruder) >= 5
            and count(history_of(system.http, ins, patient), "R-HOLDER-ONLY", intruder) == 1
        )
    )


def test_professional_without_consent(
    system: Running, api: Api, dossier: tuple[str, Headers, Headers]
) -> None:
    ins, patient, _ = dossier
    rpps, stranger = api.professional("10")
    response = system.http.get(f"/api/v1/patients/{ins}/documents", headers=stranger)
    assert response.status_code == 403 and response.json()["errors"] == [{"rule": "R-NO-CONSENT"}]
    refusal_traced(system.http, ins, patient, f"rpps:{rpps}", "R-NO-CONSENT")


def test_blocked_professional_even_in_an_emergency(system: Running, api: Api) -> None:
    ins, patient, doctor = api.dossier_with_consenting_doctor("bloque@patients.dmp-test.fr")
    rpps = actor_id(doctor)
    assert (
        system.http.post(
            f"/api/v1/patients/{ins}/blocks", json={"professional_id": rpps}, headers=patient
        ).status_code
        == 200
    )
    listed = system.http.get(f"/api/v1/patients/{ins}/documents", headers=doctor)
    assert listed.status_code == 403 and listed.json()["errors"] == [{"rule": "R-BLOCKED"}]
    emergency = system.http.post(
        f"/api/v1/patients/{ins}/emergency-access",
        json={"reason": "patient inconscient"},
        headers=doctor,
    )
    assert emergency.status_code == 403 and emergency.json()["errors"] == [{"rule": "R-BLOCKED"}]
    eventually(lambda: count(history_of(system.http, ins, patient), "R-BLOCKED", rpps) >= 2)


def test_emergency_access_after_the_patients_opposition(system: Running, api: Api) -> None:
    ins, patient, _ = api.dossier_with_consenting_doctor("oppose@patients.dmp-test.fr")
    opposed = system.http.put(
        f"/api/v1/patients/{ins}/emergency-oppositions",
        json={"oppose_emergency": True, "oppose_regulator": True},
        headers=patient,
    )
    assert opposed.status_code == 200
    rpps, urgentist = api.professional("10")
    response = system.http.post(
        f"/api/v1/patients/{ins}/emergency-access",
        json={"reason": "détresse vitale aux urgences"},
        headers=urgentist,
    )
    assert response.status_code == 403 and response.json()["errors"] == [
        {"rule": "R-EMERGENCY-OPPOSED"}
    ]
    refusal_traced(system.http, ins, patient, f"rpps:{rpps}", "R-EMERGENCY-OPPOSED")
    assert (
        system.http.get(f"/api/v1/patients/{ins}/documents", headers=urgentist).status_code == 403
    )


# Hidden documents: by id, by guessing, through counts and pages.


def test_masked_document_fetched_by_id_answers_like_a_missing_one(
    system: Running,
    api: Api,
    traces: Collection[dict[str, Any]],
) -> None:
    ins, patient, author = api.dossier_with_consenting_doctor("masque@patients.dmp-test.fr")
    document_id = system.http.post(
        f"/api/v1/patients/{ins}/documents", json=document(b"%PDF-1.4 psy"), headers=author
    ).json()["document_id"]
    assert (
        system.http.put(
            f"/api/v1/patients/{ins}/documents/{document_id}/visibility",
            json={"masked": True},
            headers=patient,
        ).status_code
        == 200
    )
    rpps, cardiologist = api.professional("10")
    assert (
        system.http.post(f"/api/v1/patients/{ins}/consents", headers=cardiologist).status_code
        == 201
    )
    hidden = system.http.get(
        f"/api/v1/patients/{ins}/documents/{document_id}", headers=cardiologist
    )
    missing = system.http.get(
        f"/api/v1/patients/{ins}/documents/doc_{'0' * 32}", headers=cardiologist
    )
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["detail"] == missing.json()["detail"]  # nothing tells the two apart
    content = system.http.get(
        f"/api/v1/patients/{ins}/documents/{document_id}/content", headers=cardiologist
    )
    assert content.status_code == 404
    by_fhir = system.http.get(
        f"/fhir/DocumentReference/{document_id.replace('_', '-', 1)}", headers=cardiologist
    )
    assert by_fhir.status_code == 404
    eventually(
        lambda: (
            traces.count_documents(
                {
                    "type": "access_denied",
                    "rule": "R-VISIBILITY",
                    "actor.id": f"rpps:{rpps}",
                    "document_id": document_id,
                }
            )
            >= 3
        )
    )
    refusal_traced(system.http, ins, patient, f"rpps:{rpps}", "R-UNKNOWN-DOCUMENT")


def test_invisible_document_fetched_by_the_patient(
    system: Running,
    api: Api,
    traces: Collection[dict[str, Any]],
) -> None:
    ins, patient, author = api.dossier_with_consenting_doctor("invisible@patients.dmp-test.fr")
    document_id = system.http.post(
        f"/api/v1/patients/{ins}/documents",
        headers=author,
        json=document(b"%PDF-1.4 resultat sensible", visibility=["INVISIBLE_PATIENT"]),
    ).json()["document_id"]
    response = system.http.get(f"/api/v1/patients/{ins}/documents/{document_id}", headers=patient)
    assert response.status_code == 404
    listed = system.http.get(f"/api/v1/patients/{ins}/documents", headers=patient).json()
    assert listed["total"] == 0 and listed["documents"] == []
    patient_id = actor_id(patient)
    eventually(
        lambda: traces.find_one(
            {
                "type": "access_denied",
                "rule": "R-VISIBILITY",
                "actor.id": patient_id,
                "document_id": document_id,
            }
        )
    )
    # Traced, but the patient's own history does not reveal the document before the announcement.
    assert document_id not in str(history_of(system.http, ins, patient))


def test_guessing_document_ids_finds_nothing_and_each_guess_is_traced(
    system: Running,
    api: Api,
    dossier: tuple[str, Headers, Headers],
    traces: Collection[dict[str, Any]],
) -> None:
    ins, patient, doctor = dossier
    other_ins, _, other_doctor = api.dossier_with_consenting_doctor("voisin@patients.dmp-test.fr")
    theirs = system.http.post(
        f"/api/v1/patients/{other_ins}/documents",
        json=document(b"%PDF-1.4 voisin"),
        headers=other_doctor,
    ).json()["document_id"]
    guesses = [f"doc_{uuid.uuid4().hex}" for _ in range(20)] + [
        theirs,
        "passwd",
        "x" * 5000,
        "doc_$ne",
    ]
    for guess in guesses:
        response = system.http.get(f"/api/v1/patients/{ins}/documents/{guess}", headers=doctor)
        assert response.status_code == 404, (guess[:40], response.status_code)
    by_fhir = system.http.get(f"/fhir/DocumentReference/doc-{uuid.uuid4().hex}", headers=doctor)
    assert by_fhir.status_code == 404
    doctor_id = actor_id(doctor)
    eventually(
        lambda: (
            traces.count_documents(
                {"type": "access_denied", "rule": "R-UNKNOWN-DOCUMENT", "actor.id": doctor_id}
            )
            >= len(guesses) + 1
        )
    )
    traced = str(list(traces.find({"rule": "R-UNKNOWN-DOCUMENT", "actor.id": doctor_id})))
    assert (
        "passwd" not in traced and "xxxx" not in traced and "$ne" not in traced
    )  # guesses never land verbatim
    # Another patient's document, named under this dossier, is not found here either.
    assert traces.find_one(
        {"rule": "R-UNKNOWN-DOCUMENT", "actor.id": doctor_id, "document_id": theirs}
    )
    history = history_of(system.http, ins, patient)
    assert any(t["rule"] == "R-UNKNOWN-DOCUMENT" for t in history)


def test_counts_pages_and_filters_reveal_no_hidden_document(system: Running, api: Api) -> None:
    ins, patient, author = api.dossier_with_consenting_doctor("comptes@patients.dmp-test.fr")
    http = system.http
    ids = [
        http.post(
            f"/api/v1/patients/{ins}/documents",
            headers=author,
            json=document(f"%PDF-1.4 n{n}".encode(), title=f"Document {n}"),
        ).json()["document_id"]
        for n in range(5)
    ]
    masked = ids[:2]
    for document_id in masked:
        assert (
            http.put(
                f"/api/v1/patients/{ins}/documents/{document_id}/visibility",
                json={"masked": True},
                headers=patient,
            ).status_code
            == 200
        )
    invisible = http.post(
        f"/api/v1/patients/{ins}/documents",
        headers=author,
        json=document(b"%PDF-1.4 annonce", visibility=["INVISIBLE_PATIENT"]),
    ).json()["document_id"]
    _, cardiologist = api.professional("10")
    assert http.post(f"/api/v1/patients/{ins}/consents", headers=cardiologist).status_code == 201

    def walk(headers: Headers, **params: Any) -> tuple[int, list[str]]:
        seen, cursor, total = [], None, -1
        while True:
            page = http.get(
                f"/api/v1/patients/{ins}/documents",
                headers=headers,
                params={"limit": 1, **params, **({"cursor": cursor} if cursor else {})},
            ).json()
            total = page["total"]
            seen += [d["document_id"] for d in page["documents"]]
            if page["next_cursor"]:
                assert (
                    len(page["documents"]) == 1
                )  # full pages: no hole where a hidden document was
            cursor = page["next_cursor"]
            if cursor is None:
                return total, seen

    total, seen = walk(cardiologist)
    assert total == len(seen) == 4 and not set(seen) & set(
        masked
    )  # 3 unmasked + the one invisible to the patient
    total, seen = walk(cardiologist, category="10", type_code="11488-4")
    assert total == len(seen) == 4
    total, seen = walk(patient)
    assert (
        total == len(seen) == 5 and invisible not in seen
    )  # the patient sees their masked ones, not this
    forged_cursor = http.get(
        f"/api/v1/patients/{ins}/documents", headers=cardiologist, params={"cursor": "eyJ4IjoxfQ"}
    )
    assert forged_cursor.status_code == 422


# Logins.


def test_one_time_code_brute_force_is_stopped_and_traced(system: Running, api: Api) -> None:
    http, email = system.http, "force@patients.dmp-test.fr"
    ins = api.register_patient(email)
    assert (
        http.post("/api/v1/login/patient/code", json={"ins": ins, "channel": "email"}).status_code
        == 202
    )
    mail = system.mailbox.wait_for(email, 1, LOGIN_CODE)[-1]
    found = re.search(r"\b(\d{6})\b", mail.get_content())
    assert found is not None
    right = found.group(1)
    wrong = [f"{(int(right) + n) % 10**6:06d}" for n in range(1, 9)]
    answers = [
        http.post("/api/v1/login/patient/token", json={"ins": ins, "code": code}).status_code
        for code in wrong
    ]
    assert answers == [401] * len(wrong)
    late = http.post("/api/v1/login/patient/token", json={"ins": ins, "code": right})
    assert late.status_code == 401  # locked after 5 wrong codes: the right one no longer opens it
    patient = api.token({"kind": "patient", "ins": ins})

    def failures() -> (
        int
    ):  # each wrong code, and the right one after the lock, in the patient's own history
        return len(
            [
                t
                for t in history_of(http, ins, patient)
                if t["type"] == "login_failed"
                and t["rule"] == "R-LOGIN-CODE"
                and t["outcome"] == "denied"
            ]
        )

    eventually(lambda: failures() == len(wrong) + 1)
