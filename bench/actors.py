"""Patients, professionals and their dossiers for the benchmarks, made through the gateway like any client."""

from __future__ import annotations

import base64
import random
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from services.common.identifiers import ins_key, luhn_valid


def make_ins(rng: random.Random) -> str:
    nir = (
        f"{rng.choice('12')}{rng.randint(0, 99):02d}{rng.randint(1, 12):02d}{rng.randint(1, 95):02d}"
        f"{rng.randint(1, 999):03d}{rng.randint(1, 999):03d}"
    )
    return f"{nir}{ins_key(nir):02d}"


def make_rpps(rng: random.Random) -> str:
    body = f"1{rng.randint(0, 10**9 - 1):09d}"
    return body + next(d for d in "0123456789" if luhn_valid(body + d))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Pair:
    """A patient with an open dossier and a doctor the patient consented to."""

    ins: str
    patient: dict[str, str]
    doctor: dict[str, str]


def make_pair(http: httpx.Client, rng: random.Random) -> Pair:
    ins, rpps = make_ins(rng), make_rpps(rng)
    birth = f"19{ins[1:3]}-{ins[3:5]}-15"
    sex = "M" if ins[0] == "1" else "F"
    http.post(
        "/api/v1/patients",
        json={
            "ins": ins,
            "given_name": "Bench",
            "family_name": "Mark",
            "sex": sex,
            "birth_date": birth,
            "email": f"{uuid.uuid4().hex[:10]}@bench.example.org",
        },
    ).raise_for_status()
    http.post(
        "/api/v1/professionals",
        json={"rpps": rpps, "profession": "10", "given_name": "Bench", "family_name": "Doc"},
    ).raise_for_status()
    patient = bearer(token(http, {"kind": "patient", "ins": ins}))
    doctor = bearer(token(http, {"kind": "professional", "rpps": rpps}))
    http.post("/api/v1/dossiers", json={"ins": ins}, headers=patient).raise_for_status()
    http.post(f"/api/v1/patients/{ins}/consents", headers=doctor).raise_for_status()
    return Pair(ins, patient, doctor)


def token(http: httpx.Client, who: dict[str, str]) -> str:
    response = http.post("/api/v1/dev/tokens", json=who)
    response.raise_for_status()
    return str(response.json()["access_token"])


def submission(title: str = "Compte rendu de consultation") -> dict[str, Any]:
    """A small PDF deposit, its bytes unique so that it is never refused as a duplicate."""
    content = base64.b64encode(b"%PDF-1.4\n" + uuid.uuid4().bytes * 64 + b"\n%%EOF").decode()
    return {
        "category": "10",
        "type_code": "11488-4",
        "title": title,
        "care_date": "2026-11-20",
        "format": "application/pdf",
        "content": content,
    }


def deposit(http: httpx.Client, pair: Pair) -> str:
    response = http.post(
        f"/api/v1/patients/{pair.ins}/documents", headers=pair.doctor, json=submission()
    )
    response.raise_for_status()
    return str(response.json()["document_id"])
