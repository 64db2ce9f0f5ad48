"""FHIR XML at the facade's edge (services/gateway/fhir_xml.py), with no broker or store: the format a caller
asks for, the translation both ways, and XML that must never be parsed (DTDs, entities, other namespaces)."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Body, FastAPI, Response
from fhir.resources.R4B.documentreference import DocumentReference

from services.common.codes import INS_SYSTEM
from services.common.errors import DmpError, InvalidInput, NotFound
from services.gateway import problems
from services.gateway.bodies import BoundedBodies
from services.gateway.fhir import FhirResponse
from services.gateway.fhir_xml import (
    FHIR_XML,
    FhirXml,
    MalformedBody,
    from_xml,
    preferred_format,
    to_xml,
)

REFERENCE: dict[str, Any] = {
    "resourceType": "DocumentReference",
    "id": "doc-1",
    "status": "current",
    "masterIdentifier": {"system": "urn:ietf:rfc:3986", "value": "urn:oid:1.2.250.1.999.7.1.42"},
    "type": {"coding": [{"system": "http://loinc.org", "code": "11488-4"}]},
    "category": [{"coding": [{"system": "urn:oid:1.2.250.1.213.1.1.4.1", "code": "10"}]}],
    "subject": {"identifier": {"system": INS_SYSTEM, "value": "180012A00100161"}},
    "securityLabel": [
        {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}
            ]
        }
    ],
    "context": {"period": {"start": "2026-11-20", "end": "2026-11-22"}},
    "content": [
        {
            "attachment": {
                "contentType": "application/pdf",
                "title": "CR",
                "data": base64.b64encode(b"%PDF-1.4").decode(),
            }
        }
    ],
}


@pytest.mark.parametrize(
    ("query", "accept", "wanted"),
    [
        (b"", "", None),
        (b"", "*/*", None),
        (b"_format=xml", "application/fhir+json", "xml"),  # _format overrides Accept
        (b"_format=application/fhir%2Bxml", "", "xml"),
        (b"_format=json", "application/fhir+xml", "json"),
        (b"", "application/fhir+xml", "xml"),
        (b"", "application/xml;q=0.9, application/fhir+json", "json"),
        (b"", "application/fhir+json;q=0.5, application/fhir+xml", "xml"),
        (b"", "text/html, application/fhir+xml;q=0.8", "xml"),
        (b"", "application/fhir+xml;q=0, application/json", "json"),
    ],
)
def test_the_format_is_what_format_or_accept_asks(
    query: bytes, accept: str, wanted: str | None
) -> None:
    assert preferred_format(query, accept) == wanted


def test_a_resource_goes_to_xml_and_back_unchanged() -> None:
    xml = to_xml(REFERENCE)
    assert xml.startswith(b"<?xml") and b'<DocumentReference xmlns="http://hl7.org/fhir">' in xml
    assert from_xml(xml) == json.loads(
        DocumentReference.model_validate(REFERENCE).model_dump_json()
    )


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
    b'<Patient xmlns="http://hl7.org/fhir"><id value="&lol2;"/></Patient>'
)
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    b'<Patient xmlns="http://hl7.org/fhir"><id value="&x;"/></Patient>'
)
BARE_DTD = b'<?xml version="1.0"?><!DOCTYPE Patient><Patient xmlns="http://hl7.org/fhir"/>'


@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL_ENTITY, BARE_DTD])
def test_xml_with_a_dtd_or_entities_is_never_parsed(body: bytes) -> None:
    with pytest.raises(MalformedBody, match="DTD"):
        from_xml(body)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"<Patient xmlns='http://hl7.org/fhir'>", MalformedBody),  # not well-formed
        (b"<Patient><id value='x'/></Patient>", MalformedBody),  # not in FHIR's namespace
        (b"<Nothing xmlns='http://hl7.org/fhir'/>", InvalidInput),  # no such resource
        (
            b"<Patient xmlns='http://hl7.org/fhir'><birthDate value='yesterday'/></Patient>",
            InvalidInput,
        ),
        (b"<Patient xmlns='http://hl7.org/fhir'><active value='perhaps'/></Patient>", InvalidInput),
        (
            b"<Patient xmlns='http://hl7.org/fhir'><colour value='blue'/></Patient>",
            InvalidInput,
        ),  # no such element
    ],
)
def test_xml_that_is_not_a_fhir_resource_is_refused(body: bytes, error: type[DmpError]) -> None:
    with pytest.raises(error):
        from_xml(body)


class Facade:
    """Calls the app in this thread's own event loop (FastAPI's TestClient hangs in this suite: see
    tests/e2e/test_served_contract.py)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def request(self, method: str, url: str, **options: Any) -> httpx.Response:
        async def call() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
                return await client.request(method, url, **options)

        return asyncio.run(call())

    def get(self, url: str, **options: Any) -> httpx.Response:
        return self.request("GET", url, **options)

    def post(self, url: str, **options: Any) -> httpx.Response:
        return self.request("POST", url, **options)


def facade() -> Facade:
    """The middleware in front of routes that, like the facade's, speak FHIR JSON only."""
    app = FastAPI()
    problems.install(app)
    app.add_middleware(FhirXml)
    app.add_middleware(BoundedBodies, limit=64 * 1024)

    @app.post("/fhir/DocumentReference", response_class=FhirResponse)
    def create(resource: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
        return {**resource, "id": "doc-2"}

    @app.get("/fhir/DocumentReference/{fhir_id}", response_class=FhirResponse)
    def read(fhir_id: str) -> dict[str, Any]:
        if fhir_id != "doc-1":
            raise NotFound("no such document", [{"field": "id"}])
        return REFERENCE

    @app.get("/fhir/Binary/doc-1")
    def raw() -> Response:
        return Response(b"%PDF-1.4", media_type="application/pdf")

    return Facade(app)


def test_an_answer_goes_back_in_xml_when_asked_and_in_json_otherwise() -> None:
    client = facade()
    as_json = client.get("/fhir/DocumentReference/doc-1")
    assert (
        as_json.headers["content-type"].startswith("application/fhir+json")
        and as_json.json() == REFERENCE
    )
    as_xml = client.get("/fhir/DocumentReference/doc-1", headers={"Accept": FHIR_XML})
    assert as_xml.headers["content-type"].startswith(FHIR_XML)
    assert from_xml(as_xml.content) == from_xml(to_xml(REFERENCE))
    assert int(as_xml.headers["content-length"]) == len(as_xml.content)


def test_an_error_goes_back_as_an_xml_operation_outcome() -> None:
    missing = facade().get("/fhir/DocumentReference/doc-9?_format=xml")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith(FHIR_XML)
    assert from_xml(missing.content)["issue"][0]["code"] == "not-found"


def test_a_documents_own_bytes_are_never_translated() -> None:
    raw = facade().get("/fhir/Binary/doc-1", headers={"Accept": FHIR_XML})
    assert raw.content == b"%PDF-1.4" and raw.headers["content-type"] == "application/pdf"


def test_an_xml_body_reaches_the_route_as_json_and_the_answer_comes_back_in_xml() -> None:
    created = facade().post(
        "/fhir/DocumentReference", content=to_xml(REFERENCE), headers={"Content-Type": FHIR_XML}
    )
    assert created.status_code == 200 and created.headers["content-type"].startswith(FHIR_XML)
    assert from_xml(created.content)["id"] == "doc-2"
    in_json = facade().post(
        "/fhir/DocumentReference",
        content=to_xml(REFERENCE),
        headers={"Content-Type": FHIR_XML, "Accept": "application/fhir+json"},
    )
    assert in_json.json()["masterIdentifier"] == REFERENCE["masterIdentifier"]


def test_a_hostile_xml_body_is_refused_before_any_route_and_named() -> None:
    refused = facade().post(
        "/fhir/DocumentReference", content=BILLION_LAUGHS, headers={"Content-Type": FHIR_XML}
    )
    assert refused.status_code == 400 and refused.headers["content-type"].startswith(FHIR_XML)
    outcome = from_xml(refused.content)
    assert (
        outcome["issue"][0]["expression"] == ["body"]
        and "DTD" in outcome["issue"][0]["diagnostics"]
    )


def test_mangled_xml_gets_one_of_our_errors_never_a_crash() -> None:
    """Thousands of seeded mutations of a valid Bundle: each is read, or refused with a 400 or 422 naming why."""
    import random

    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:1",
                "resource": REFERENCE,
                "request": {"method": "POST", "url": "DocumentReference"},
            }
        ],
    }
    base = to_xml(bundle)
    pieces = [
        b"<x/>",
        b"<id value='1'/>",
        b"<extension url='u'><valueString value='v'/></extension>",
        b"text",
        b"<contained><Patient/></contained>",
        b" value='' ",
        b"<",
        b">",
        b"<resource><Nope/></resource>",
        b"<div xmlns='http://www.w3.org/1999/xhtml'>hi</div>",
        b" id='x'",
        b"<!-- c -->",
        b"<![CDATA[x]]>",
        b"&#0;",
        b"<entry/>",
        b"<coding/>",
        b"encoding='nope'",
    ]
    rng = random.Random(20261203)
    for _ in range(2000):
        mangled = bytearray(base)
        for _ in range(rng.randint(1, 4)):
            position = rng.randrange(len(mangled))
            choice = rng.random()
            if choice < 0.5:
                mangled[position:position] = rng.choice(pieces)
            elif choice < 0.8:
                del mangled[position : position + rng.randint(1, 20)]
            else:
                mangled[position] = rng.randrange(256)
        try:
            from_xml(bytes(mangled))
        except DmpError as error:
            assert error.status in (400, 422)
