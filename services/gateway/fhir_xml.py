"""FHIR XML at the facade's edge: the routes speak FHIR JSON only, and this ASGI middleware translates.

A request body sent as `application/fhir+xml` (or `application/xml`) is read into its FHIR resource and handed
on as FHIR JSON; an answer in FHIR JSON (resources and OperationOutcomes alike) goes back as XML when the
caller asked for it (`_format=xml`, or an Accept that prefers XML to JSON). The translation is fhir.resources'
(R4B models, which read and write FHIR R4's elements in the specification's order). XML from outside is parsed
with no DTD, no entity and no network access: defusedxml refuses any DTD before lxml sees the body.
"""

from __future__ import annotations

import json
from typing import Any

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException
from fhir.resources.R4B import get_fhir_model_class
from lxml import etree
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders, QueryParams
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.errors import DmpError, InvalidInput
from services.common.jsondepth import depth_exceeds, too_deep_reason
from services.gateway import problems
from services.gateway.bodies import replay

FHIR_JSON = "application/fhir+json"
FHIR_XML = "application/fhir+xml"
NAMESPACE = "{http://hl7.org/fhir}"
JSON_FORMATS = {"json", "application/json", "application/fhir+json"}
XML_FORMATS = {"xml", "text/xml", "application/xml", "application/fhir+xml"}
XML_BODIES = {"application/fhir+xml", "application/xml", "text/xml"}


class MalformedBody(DmpError):
    code = "malformed_body"
    status = 400


def _media(content_type: str | None) -> str:
    return (content_type or "").partition(";")[0].strip().lower()


def media_ranges(accept: str) -> list[tuple[str, float]]:
    """An Accept header's media ranges with their q, most wanted first (q=0: not acceptable)."""
    ranges = []
    for part in accept.split(","):
        media, *parameters = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media:
            ranges.append((media.lower(), quality))
    return sorted(ranges, key=lambda item: -item[1])


def preferred_format(query_string: bytes, accept: str) -> str | None:
    """ "xml" or "json" as the caller asked: `_format` decides (FHIR); else the first of JSON or XML that Accept
    wants (q > 0); None when neither says."""
    format_ = QueryParams(query_string.decode("latin-1")).get("_format")
    if format_ is not None:
        return "xml" if format_ in XML_FORMATS else "json"
    for media, quality in media_ranges(accept):
        if quality > 0 and media in JSON_FORMATS | XML_FORMATS:
            return "xml" if media in XML_FORMATS else "json"
    return None


def to_xml(resource: dict[str, Any]) -> bytes:
    model = get_fhir_model_class(str(resource["resourceType"])).model_validate(resource)
    xml: str | bytes = model.model_dump_xml(
        xml_declaration=True
    )  # bytes, whatever its annotation says
    return xml if isinstance(xml, bytes) else xml.encode()


# lxml reads only what defusedxml let through; it is told anyway never to resolve, load or fetch anything.
PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
)


def from_xml(body: bytes) -> dict[str, Any]:
    """The FHIR resource an XML body holds, as FHIR JSON."""
    try:
        root = ElementTree.fromstring(
            body, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except DefusedXmlException:
        raise MalformedBody(
            "XML with a DTD or entities is not accepted", [{"field": "body"}]
        ) from None
    except (
        ElementTree.ParseError,
        LookupError,
        ValueError,
    ) as error:  # LookupError: an unknown encoding
        raise MalformedBody(
            f"the body is not well-formed XML ({error})"[:200], [{"field": "body"}]
        ) from None
    if not root.tag.startswith(NAMESPACE):
        raise MalformedBody(
            "the root element is not in the FHIR namespace (http://hl7.org/fhir)",
            [{"field": "body"}],
        )
    name = root.tag.removeprefix(NAMESPACE)
    try:
        model = get_fhir_model_class(name)
    except ValueError:
        raise InvalidInput.for_field(
            "resourceType", f"{name[:40]} is not a FHIR resource"
        ) from None
    try:
        resource: dict[str, Any] = json.loads(
            model.model_validate_xml(body, xmlparser=PARSER).model_dump_json()
        )
    except ValidationError as error:
        raise InvalidInput(
            f"not a valid {name}",
            [
                {
                    "field": ".".join(str(part) for part in problem["loc"]) or "body",
                    "reason": problem["msg"][:200],
                }
                for problem in error.errors()[:20]
            ],
        ) from None
    except (
        KeyError
    ) as error:  # fhir.resources meets an element that its model of the resource has not
        raise InvalidInput.for_field(
            str(error.args[0])[:80] if error.args else "body", f"is not an element of {name} here"
        ) from None
    except (etree.XMLSyntaxError, LookupError, AttributeError, ValueError, TypeError) as error:
        raise MalformedBody(
            f"not a readable {name} ({type(error).__name__})", [{"field": "body"}]
        ) from None
    return resource


class FhirXml:
    """ASGI middleware for the FHIR paths (see the module's docstring); every other path is passed through."""

    def __init__(self, app: ASGIApp, prefix: str = "/fhir") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope["path"]).startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        xml_in = _media(headers.get("content-type")) in XML_BODIES
        wanted = preferred_format(scope.get("query_string", b""), headers.get("accept", ""))
        answer = self._in_xml(send) if wanted == "xml" or (wanted is None and xml_in) else send
        if xml_in:
            try:
                scope, receive = await self._as_json(scope, receive)
            except DmpError as error:
                response = problems.problem(
                    Request(scope),
                    error.status,
                    error.code,
                    error.message,
                    {"errors": error.details},
                )
                await response(scope, receive, answer)
                return
        await self.app(scope, receive, answer)

    async def _as_json(self, scope: Scope, receive: Receive) -> tuple[Scope, Receive]:
        chunks = []
        while True:  # BoundedBodies, outside, has read and bounded the body already
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        if not any(chunks):  # a GET that names a content type: nothing to translate
            return scope, replay(b"", receive)
        resource = await run_in_threadpool(from_xml, b"".join(chunks))
        body = json.dumps(resource, ensure_ascii=False).encode()
        if depth_exceeds(body):
            raise InvalidInput.for_field("body", too_deep_reason())
        headers = MutableHeaders(scope={**scope, "headers": list(scope["headers"])})
        headers["content-type"] = FHIR_JSON
        headers["content-length"] = str(len(body))
        return {**scope, "headers": headers.raw}, replay(body, receive)

    @staticmethod
    def _in_xml(send: Send) -> Send:
        """A `send` that turns a FHIR JSON answer into XML; any other answer (a document's bytes) goes as it is."""
        start: Message | None = None
        chunks: list[bytes] = []

        async def sending(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                if _media(Headers(raw=message["headers"]).get("content-type")) == FHIR_JSON:
                    start = message
                    return
                await send(message)
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            xml = await run_in_threadpool(to_xml, json.loads(body)) if body else body
            headers = MutableHeaders(raw=list(start["headers"]))
            headers["content-type"] = f"{FHIR_XML}; charset=utf-8"
            headers["content-length"] = str(len(xml))
            await send({**start, "headers": headers.raw})
            await send({"type": "http.response.body", "body": xml, "more_body": False})

        return sending
