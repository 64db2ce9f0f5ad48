"""The FHIR R4 facade (IHE MHD as profiled by ANS): ITI-65 provide (a transaction Bundle, or one
DocumentReference with its data), ITI-67 find (DocumentReference search), ITI-68 retrieve (Binary), ITI-66
find lists (services/gateway/fhir_list_routes.py), a Patient look-up by INS and traits (services/gateway/
fhir_patient.py), and a CapabilityStatement. Same services, same rules, same errors, as OperationOutcome."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Body, Depends, Request, Response
from fastapi.responses import JSONResponse

from services.common.codes import INS_SYSTEM
from services.common.errors import DmpError, InvalidInput, NotFound
from services.gateway import (
    fhir_conditional,
    fhir_list,
    fhir_patch,
    fhir_patient,
    fhir_search,
    fhir_xml,
)
from services.gateway import fhir_mapping as mapping
from services.gateway.auth import Token, verified_once
from services.gateway.fhir_xml import media_ranges
from services.gateway.rpc import services

FHIR_JSON = "application/fhir+json"
CORE = "http://hl7.org/fhir/SearchParameter/"
# What ITI-67 serves, exactly: (name, type, definition, what it searches). services/gateway/fhir_search.py.
SEARCH_PARAMETERS = [
    (
        "patient",
        "reference",
        f"{CORE}clinical-patient",
        "the patient by id (Patient/<id>, as in DocumentReference.subject.reference); one per search",
    ),
    (
        "patient.identifier",
        "token",
        None,
        f"the patient by INS ({INS_SYSTEM}|<INS>); one per search",
    ),
    (
        "_id",
        "token",
        f"{CORE}Resource-id",
        "DocumentReference ids; a comma-separated list is an OR",
    ),
    (
        "identifier",
        "token",
        f"{CORE}clinical-identifier",
        f"masterIdentifier ({mapping.URI_SYSTEM}|urn:oid:... or urn:uuid:...) or identifier "
        f"({mapping.DOCUMENT_SYSTEM}|<id>); a comma-separated list is an OR",
    ),
    (
        "category",
        "token",
        f"{CORE}DocumentReference-category",
        f"class code ({mapping.CLASS_SYSTEM}, TRE_A03); a comma-separated list is an OR",
    ),
    (
        "type",
        "token",
        f"{CORE}clinical-type",
        f"type code (LOINC, or {mapping.TYPE_SYSTEM_NATIONAL} for national codes); a comma-separated list is an OR",
    ),
    (
        "status",
        "token",
        f"{CORE}DocumentReference-status",
        "current (the default), superseded, entered-in-error; a comma-separated list is an OR. Archived documents "
        "(current, isArchived true) are found only with isArchived=true",
    ),
    (
        "isArchived",
        "token",
        "https://interop.esante.gouv.fr/ig/fhir/pdsm/SearchParameter/PDSm-isArchived",
        f"PDSm's archive flag (extension {mapping.IS_ARCHIVED}): true, false or true,false",
    ),
    (
        "security-label",
        "token",
        f"{CORE}DocumentReference-security-label",
        f"confidentiality ({mapping.CONFIDENTIALITY}: N, R, V) or visibility ({mapping.VISIBILITY_SYSTEM}, TRE_A07: "
        "MASQUE_PS, INVISIBLE_PATIENT, INVISIBLE_REPRESENTANTS_LEGAUX); a comma-separated list is an OR, a repeat "
        "an AND; only documents the caller may see are ever found",
    ),
    (
        "relatesto",
        "reference",
        f"{CORE}DocumentReference-relatesto",
        "the new versions of a document (DocumentReference/<id>, their relatesTo replaces); a comma-separated list "
        "is an OR",
    ),
    (
        "creation",
        "date",
        "https://profiles.ihe.net/ITI/MHD/SearchParameter/DocumentReference-Creation",
        "content.attachment.creation (shown as the date of care at 00:00Z); prefixes eq ge gt le lt sa eb",
    ),
    (
        "_lastUpdated",
        "date",
        f"{CORE}Resource-lastUpdated",
        "meta.lastUpdated (the last change of its metadata, else its deposit); prefixes eq ge gt le lt sa eb",
    ),
    (
        "date",
        "date",
        f"{CORE}DocumentReference-date",
        "DocumentReference.date (when it was deposited); prefixes eq ge gt le lt sa eb; repeat to bound a range",
    ),
    (
        "period",
        "date",
        f"{CORE}DocumentReference-period",
        "context.period, from the date of care to its end (ongoing without one), compared as a range at day "
        "precision (FHIR date search on a Period): eq lies within the value, ge ends on or after it (or is "
        "ongoing), le starts by its end, gt and lt strictly, sa starts after it, eb ended before it",
    ),
    (
        "setting",
        "token",
        f"{CORE}DocumentReference-setting",
        "context.practiceSetting, system|code (or code, or system|); a comma-separated list is an OR, a repeat "
        "an AND",
    ),
    (
        "facility",
        "token",
        f"{CORE}DocumentReference-facility",
        "context.facilityType, system|code (or code, or system|); a comma-separated list is an OR, a repeat an AND",
    ),
    (
        "event",
        "token",
        f"{CORE}DocumentReference-event",
        "any of context.event, system|code (or code, or system|); a comma-separated list is an OR, a repeat an "
        "AND (both events)",
    ),
    (
        "format",
        "token",
        f"{CORE}DocumentReference-format",
        "content.format, system|code (or code, or system|); a comma-separated list is an OR",
    ),
    (
        "related",
        "reference",
        f"{CORE}DocumentReference-related",
        "context.related, which holds identifiers only: related:identifier=system|value (a comma-separated list "
        "is an OR, a repeat an AND); a literal reference matches nothing",
    ),
    (
        "author.given",
        "string",
        None,
        "the author's registered given name (the contained Practitioner's name.given) starts so, case and "
        "accents aside; author.given:exact, as registered; a comma-separated list is an OR, a repeat an AND. "
        "A document deposited before names were kept matches none",
    ),
    (
        "author.family",
        "string",
        None,
        "the author's registered family name (name.family) starts so, case and accents aside; "
        "author.family:exact, as registered; a comma-separated list is an OR, a repeat an AND",
    ),
]


class FhirResponse(JSONResponse):
    media_type = FHIR_JSON


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _search_params(listed: Sequence[tuple[str, str, str | None, str]]) -> list[dict[str, str]]:
    search_params = []
    for name, kind, definition, documentation in listed:
        param = {"name": name, "type": kind, "documentation": documentation}
        search_params.append({**param, "definition": definition} if definition else param)
    return search_params


def capability_statement() -> dict[str, Any]:
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-12-02",
        "kind": "instance",
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "application/fhir+xml"],
        "implementation": {
            "description": "Dossier Médical Partagé — IHE MHD Document Responder and Recipient"
        },
        "rest": [
            {
                "mode": "server",
                "security": {"description": "Bearer access tokens from /api/v1/login (EdDSA JWT)"},
                "resource": [
                    {
                        "type": "DocumentReference",
                        "interaction": [
                            {"code": "read"},
                            {"code": "vread"},
                            {"code": "search-type"},
                            {"code": "create"},
                            {"code": "patch"},
                        ],
                        "versioning": "versioned",
                        "readHistory": False,
                        "documentation": (
                            "Search by GET or by POST DocumentReference/_search (form-encoded). "
                            f"_count from 0 (the total alone) to {fhir_search.MAX_COUNT} (larger is "
                            f"served at {fhir_search.MAX_COUNT}); the next page is the Bundle's next "
                            "link. Other parameters are ignored and left out of the self link, or "
                            "refused under Prefer: handling=strict."
                        ),
                        "searchParam": _search_params(SEARCH_PARAMETERS),
                    },
                    {"type": "Binary", "interaction": [{"code": "read"}, {"code": "vread"}]},
                    list_capability(),
                    {
                        "type": "Patient",
                        "interaction": [{"code": "search-type"}],
                        "documentation": (
                            "A professional's software checks the patient's identity before "
                            "depositing: the INS with the family name and birth date read from their "
                            "card; the patient when they match, else none. By GET or by POST "
                            "Patient/_search (form-encoded, which keeps the traits out of URLs)."
                        ),
                        "searchParam": _search_params(fhir_patient.PATIENT_PARAMETERS),
                    },
                ],
                "interaction": [{"code": "transaction"}],
            }
        ],
    }


def list_capability() -> dict[str, Any]:
    """ITI-66's List: the submission sets kept by ITI-65 (services/gateway/fhir_list.py)."""
    return {
        "type": "List",
        "supportedProfile": [fhir_list.PROFILE],
        "interaction": [{"code": "read"}, {"code": "search-type"}],
        "documentation": (
            "Find Document Lists (ITI-66): the SubmissionSet Lists of ITI-65, each with the documents the "
            "caller may see (a List with none of them is not found). Search by GET or by POST List/_search; "
            "_count and other parameters as for DocumentReference; folders are not kept."
        ),
        "searchParam": _search_params(fhir_list.LIST_PARAMETERS),
    }


def version_headers(document: dict[str, Any]) -> dict[str, str]:
    """ETag (weak: the same version may be serialised differently) and Last-Modified of a DocumentReference."""
    changed = datetime.fromisoformat(
        mapping.last_updated(document).replace("Z", "+00:00")
    ).astimezone(UTC)
    return {
        "ETag": f'W/"{mapping.version_id(document)}"',
        "Last-Modified": format_datetime(changed, usegmt=True),
    }


def versioned_location(document: dict[str, Any]) -> str:
    return f"DocumentReference/{mapping.fhir_id(document['document_id'])}/_history/{mapping.version_id(document)}"


BINARY_VERSION = "1"  # a document's content is never changed: a new version is a new document


def binary_headers(document: dict[str, Any]) -> dict[str, str]:
    """A Binary's ETag and Last-Modified: its one version, written at deposit."""
    created = datetime.fromisoformat(document["created_at"].replace("Z", "+00:00"))
    return {
        "ETag": f'W/"{BINARY_VERSION}"',
        "Last-Modified": format_datetime(created.astimezone(UTC), usegmt=True),
    }


def conditional(request: Request) -> bool:
    return "if-none-match" in request.headers or "if-modified-since" in request.headers


def unchanged(request: Request, version: str, headers: dict[str, str]) -> bool:
    """A conditional read's precondition: whether the version shown (with its Last-Modified) is the one the
    client already holds."""
    if not conditional(request):
        return False
    return fhir_conditional.not_modified(
        version,
        parsedate_to_datetime(headers["Last-Modified"]),
        request.headers.get("if-none-match"),
        request.headers.get("if-modified-since"),
    )


class NotAcceptable(DmpError):
    code = "not_acceptable"
    status = 406


FHIR_FORMATS = fhir_xml.JSON_FORMATS


def accepts(accept: str, content_type: str) -> bool:
    kind = content_type.split("/")[0]
    return any(
        q > 0 and media in {content_type, f"{kind}/*", "*/*"} for media, q in media_ranges(accept)
    )


def binary_wanted(request: Request) -> str | None:
    """ITI-68's answer: "resource" (a Binary in FHIR JSON), "bytes" (the document as it is), or None when only
    the document's format can tell. `_format` overrides Accept (FHIR); a Binary in XML is services/gateway/
    fhir_xml.py's translation of the JSON one."""
    format_ = request.query_params.get("_format")
    if format_ is not None:
        if format_ in FHIR_FORMATS | fhir_xml.XML_FORMATS:
            return "resource"
        raise fhir_search.InvalidSearch.of(
            "_format", "must be json or xml (a Binary resource); leave it out for the document"
        )
    ranges = media_ranges(request.headers.get("accept", ""))
    for media, quality in ranges:
        if quality <= 0:
            continue
        if (
            media in FHIR_FORMATS or media == fhir_xml.FHIR_XML
        ):  # text/xml and application/xml: a CDA's own
            return "resource"
        if media == "*/*":
            return "bytes"
        break  # the most wanted is a specific type or range: the document's format decides
    return "bytes" if not ranges else None


def refuse_unsupported_if_strict(request: Request, unsupported: list[str]) -> None:
    """Under Prefer: handling=strict, a search with parameters this server does not apply is refused, naming them."""
    if unsupported and strict(request):
        raise fhir_search.InvalidSearch(
            f"not supported by this server: {', '.join(unsupported)}",
            [
                {"field": name, "reason": "is not a supported search parameter"}
                for name in unsupported
            ],
        )


def strict(request: Request) -> bool:
    """Prefer: handling=strict (RFC 7240, FHIR search): refuse what cannot be applied instead of ignoring it."""
    preferences = {
        part.strip().replace(" ", "") for part in request.headers.get("prefer", "").split(",")
    }
    return "handling=strict" in preferences


def searchset(request: Request, token: str, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """ITI-67, the same for GET and POST _search."""
    search = fhir_search.parse(pairs)
    refuse_unsupported_if_strict(request, search.unsupported)
    if search.matches_nothing:  # a patient identifier in a system that holds none of our patients
        page: dict[str, Any] = {"documents": [], "total": 0, "next_cursor": None, "ins": None}
    else:
        page = services().dossier.search(token, search.ins, search.query)
    base = base_url(request)
    url = f"{base}/fhir/DocumentReference"
    return searchset_bundle(
        url,
        page["total"],
        [
            (mapping.fhir_id(d["document_id"]), mapping.document_reference(d, page["ins"], base))
            for d in page["documents"]
        ],
        search.applied,
        search.unsupported,
        page["next_cursor"],
    )


def patient_searchset(request: Request, token: str, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    search = fhir_patient.parse(pairs)
    refuse_unsupported_if_strict(request, search.unsupported)
    found: list[dict[str, Any]] = []
    if search.check is not None:
        try:
            found = [services().identity.check_patient_identity(token, search.check)]
        except NotFound:
            pass  # no patient with these traits: an empty Bundle, as for an INS nobody holds
        except InvalidInput as error:
            raise InvalidInput(
                error.message,
                [
                    {
                        **detail,
                        "field": fhir_patient.PARAMETER_OF.get(
                            str(detail.get("field")), detail.get("field")
                        ),
                    }
                    for detail in error.details
                ],
            ) from None
    return searchset_bundle(
        f"{base_url(request)}/fhir/Patient",
        len(found),
        [
            (mapping.fhir_id(checked["patient_id"]), fhir_patient.patient(checked))
            for checked in found
        ],
        search.applied,
        search.unsupported,
    )


def searchset_bundle(
    url: str,
    total: int,
    matches: list[tuple[str, dict[str, Any]]],
    applied: list[tuple[str, str]],
    unsupported: list[str],
    next_cursor: str | None = None,
) -> dict[str, Any]:
    """A search's Bundle: its matches (id, resource) under `url`, the total, a self link of the parameters
    applied (those ignored are left out of it, and said in a warning entry), and the next page's link."""
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": [{"relation": "self", "url": f"{url}?{urlencode(applied)}"}],
        "entry": [
            {"fullUrl": f"{url}/{own}", "resource": resource, "search": {"mode": "match"}}
            for own, resource in matches
        ],
    }
    if next_cursor:
        kept = [(name, value) for name, value in applied if name != "_cursor"]
        following = urlencode([*kept, ("_cursor", next_cursor)])
        bundle["link"].append({"relation": "next", "url": f"{url}?{following}"})
    if unsupported:
        bundle["entry"].append(
            {"resource": ignored_outcome(unsupported), "search": {"mode": "outcome"}}
        )
    return bundle


def ignored_outcome(unsupported: list[str]) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "warning",
                "code": "not-supported",
                "expression": [name],
                "diagnostics": f"{name} is not a supported search parameter: ignored",
            }
            for name in unsupported
        ],
    }


async def form_pairs(request: Request) -> list[tuple[str, str]]:
    """POST _search: the form's parameters, after those of the query string (FHIR allows both)."""
    if (
        request.headers.get("content-type", "").split(";")[0].strip()
        != "application/x-www-form-urlencoded"
    ):
        raise fhir_search.InvalidSearch.of(
            "Content-Type", "must be application/x-www-form-urlencoded"
        )
    try:
        form = parse_qsl(
            (await request.body()).decode(), keep_blank_values=True, strict_parsing=False
        )
    except UnicodeDecodeError:
        raise fhir_search.InvalidSearch.of("body", "is not UTF-8") from None
    return [*request.query_params.multi_items(), *form]


def _at_entries(error: DmpError, entries: list[int]) -> DmpError:
    """A refusal of the dossier, naming the document by its position and its own field, names the Bundle entry
    and the element of its DocumentReference instead (Bundle.entry[2].resource.context.period.end)."""

    def named(detail: dict[str, Any]) -> dict[str, Any]:
        position = str(detail.get("entry", ""))
        if position.isdigit() and int(position) < len(entries):
            entry = f"Bundle.entry[{entries[int(position)]}]"
            field = detail.get("field")
            return {
                **detail,
                "field": f"{entry}.resource.{mapping.fhir_element(str(field))}" if field else entry,
            }
        return detail

    return type(error)(error.message, [named(detail) for detail in error.details])


def check_authors(request: Request, token: str, reference: dict[str, Any]) -> None:
    """The authors a DocumentReference names (IdNat_PS) are the professional depositing it: the dossier records
    its depositor as its author, so another named would be dropped; refused instead, naming it."""
    actor = verified_once(request, token).actor.id
    for n, author in enumerate(mapping.authors_named(reference)):
        if author != actor:
            raise InvalidInput.for_field(
                f"author[{n}]",
                "is the professional depositing it (IdNat_PS 8 + their RPPS): a document is "
                "deposited by its author",
            )


def _at_entry(error: InvalidInput, index: int) -> InvalidInput:
    details = [
        {**detail, "field": f"Bundle.entry[{index}].resource.{detail.get('field')}"}
        for detail in error.details
    ]
    return InvalidInput(InvalidInput.summary(details), details)


def _as_elements(error: DmpError) -> DmpError:
    """A refusal of the dossier naming its own fields names the DocumentReference's elements instead."""
    details = [
        {**detail, "field": mapping.fhir_element(str(detail["field"]))}
        if detail.get("field")
        else detail
        for detail in error.details
    ]
    return type(error)(error.message, details)


def router() -> APIRouter:
    outcome = {"description": "an OperationOutcome", "content": {"application/fhir+json": {}}}
    api = APIRouter(
        tags=["FHIR"],
        default_response_class=FhirResponse,
        responses={
            status: outcome
            for status in (400, 401, 403, 404, 406, 409, 413, 422, 429, 500, 503, 504)
        },
    )
    documented = {
        "parameters": [
            {
                "name": name,
                "in": "query",
                "required": False,
                "schema": {"type": "string"},
                "description": text,
            }
            for name, _, _, text in [
                *SEARCH_PARAMETERS,
                ("_count", "number", None, "page size, 0 to 100"),
                ("_cursor", "string", None, "the next page's position (from the next link)"),
            ]
        ]
    }

    @api.get("/metadata")
    def metadata() -> dict[str, Any]:
        """The CapabilityStatement."""
        return capability_statement()

    @api.get("/DocumentReference", openapi_extra=documented)
    def find(request: Request, token: Token) -> dict[str, Any]:
        """ITI-67: DocumentReferences of one patient (see the CapabilityStatement for the parameters)."""
        return searchset(request, token, request.query_params.multi_items())

    @api.post("/DocumentReference/_search")
    def find_by_post(
        request: Request, token: Token, pairs: Annotated[list[tuple[str, str]], Depends(form_pairs)]
    ) -> dict[str, Any]:
        """ITI-67 with its parameters in a form-encoded body: the same search as GET."""
        return searchset(request, token, pairs)

    @api.get("/Patient")
    def find_patient(request: Request, token: Token) -> dict[str, Any]:
        """The patient with this INS, family name and birth date (identifier, family, birthdate), or none."""
        return patient_searchset(request, token, request.query_params.multi_items())

    @api.post("/Patient/_search")
    def find_patient_by_post(
        request: Request, token: Token, pairs: Annotated[list[tuple[str, str]], Depends(form_pairs)]
    ) -> dict[str, Any]:
        """The same look-up with its parameters in a form-encoded body (out of URLs and their logs)."""
        return patient_searchset(request, token, pairs)

    @api.get("/DocumentReference/{fhir_id}", response_model=None)
    def read_reference(
        request: Request, token: Token, response: Response, fhir_id: str
    ) -> dict[str, Any] | Response:
        """A DocumentReference; 304 Not Modified (no body) when If-None-Match names its current version or
        If-Modified-Since is not before its last change (fhir_conditional.py), after the same checks as a
        read: a document the caller may not see is a 404 whatever is asked."""
        found = services().dossier.find_document(token, mapping.document_id(fhir_id), False)
        headers = version_headers(found["document"])
        if unchanged(request, mapping.version_id(found["document"]), headers):
            return Response(status_code=304, headers=headers)
        response.headers.update(headers)
        return mapping.document_reference(found["document"], found["ins"], base_url(request))

    @api.patch("/DocumentReference/{fhir_id}")
    def patch_reference(
        request: Request,
        token: Token,
        response: Response,
        fhir_id: str,
        patch: Annotated[dict[str, Any], Body()],
    ) -> dict[str, Any]:
        """PDSm4DMP's PATCH (FHIRPath Patch, one operation): archive or unarchive, mask or unmask; the dossier's
        own rules decide who may (services/gateway/fhir_patch.py)."""
        change = fhir_patch.change(patch)
        # If-Match: the version the client last read; the dossier compares it in its write (412 otherwise).
        expected = fhir_conditional.expected_version(request.headers.get("if-match"))
        document_id = mapping.document_id(fhir_id)
        ins = services().dossier.find_document(token, document_id, False)["ins"]
        if isinstance(change, fhir_patch.Archiving):
            document = services().dossier.archive_document(
                token, ins, document_id, change.archived, expected
            )
        else:
            document = services().dossier.set_visibility(
                token, ins, document_id, {"masked": change.masked}, expected
            )
        response.headers.update(version_headers(document))
        return mapping.document_reference(document, ins, base_url(request))

    @api.get("/DocumentReference/{fhir_id}/_history/{version}")
    def read_version(
        request: Request, token: Token, response: Response, fhir_id: str, version: str
    ) -> dict[str, Any]:
        """vread of the current version (earlier versions of the metadata are not kept: 404, as for any id)."""
        found = services().dossier.find_document(token, mapping.document_id(fhir_id), False)
        if version != mapping.version_id(found["document"]):
            raise NotFound(
                "no such version of this document (only the current one is kept)",
                [{"field": "version"}],
            )
        response.headers.update(version_headers(found["document"]))
        return mapping.document_reference(found["document"], found["ins"], base_url(request))

    @api.get("/Binary/{fhir_id}", response_class=Response)
    def retrieve(request: Request, token: Token, fhir_id: str) -> Response:
        """ITI-68: the document's bytes, or a Binary resource (Accept: application/fhir+json, or _format=json).
        Neither acceptable: 406."""
        return binary(request, token, fhir_id)

    @api.get("/Binary/{fhir_id}/_history/{version}", response_class=Response)
    def retrieve_version(request: Request, token: Token, fhir_id: str, version: str) -> Response:
        """vread of a Binary (the location ITI-65 answers): its content never changes, a new version of a document
        is a document of its own, so version 1 is the only one (another answers 404, as an unknown id)."""
        if version != BINARY_VERSION:
            raise NotFound(
                "no such version of this content (a Binary has one, 1)", [{"field": "version"}]
            )
        return binary(request, token, fhir_id)

    def binary(request: Request, token: str, fhir_id: str) -> Response:
        wanted = binary_wanted(request)
        document_id = mapping.document_id(fhir_id)
        if conditional(request):  # 304 before any content is released, once the caller may see it
            shown = services().dossier.find_document(token, document_id, False)["document"]
            if unchanged(request, BINARY_VERSION, binary_headers(shown)):
                return Response(status_code=304, headers=binary_headers(shown))
        if wanted is None:
            # Specific types only: the document's own format decides, before any content is released.
            format_ = services().dossier.find_document(token, document_id, False)["document"][
                "format"
            ]
            accept = request.headers.get("accept", "")
            if accepts(accept, format_):
                wanted = "bytes"
            elif any(
                q > 0 and (media in FHIR_FORMATS or media == fhir_xml.FHIR_XML)
                for media, q in media_ranges(accept)
            ):
                wanted = "resource"
            else:
                raise NotAcceptable(
                    "neither the document's format nor a Binary (FHIR JSON or XML) is acceptable",
                    [{"field": "Accept"}],
                )
        found = services().dossier.find_document(token, document_id, True)
        content_type = found["document"]["format"]
        headers = binary_headers(found["document"])
        if wanted == "resource":
            binary = {
                "resourceType": "Binary",
                "id": fhir_id,
                "contentType": content_type,
                "data": found["content"],
            }
            return FhirResponse(binary, headers=headers)
        return Response(
            base64.b64decode(found["content"]), media_type=content_type, headers=headers
        )

    @api.post("/DocumentReference", status_code=201)
    def create(
        request: Request,
        token: Token,
        response: Response,
        resource: Annotated[dict[str, Any], Body()],
    ) -> dict[str, Any]:
        """A DocumentReference with its content inline (attachment.data): what stock FHIR clients send."""
        if resource.get("resourceType") != "DocumentReference":
            raise InvalidInput.for_field("resourceType", "must be DocumentReference")
        ins, payload = mapping.submission(resource)
        check_authors(request, token, resource)
        replaces = mapping.replaced_document(resource)
        try:
            if (
                replaces is not None
            ):  # a new version (relatesTo replaces): the old one becomes superseded
                document = services().dossier.replace_document(token, ins, replaces, payload)
            else:
                document = services().dossier.add_document(
                    token, ins, payload, request.headers.get("Idempotency-Key")
                )
        except DmpError as error:
            raise _as_elements(error) from None
        document.pop("replayed", None)
        response.headers["Location"] = f"{base_url(request)}/fhir/{versioned_location(document)}"
        response.headers.update(version_headers(document))
        return mapping.document_reference(document, ins, base_url(request))

    @api.post("")
    def transaction(
        request: Request, token: Token, bundle: Annotated[dict[str, Any], Body()]
    ) -> dict[str, Any]:
        """ITI-65: a transaction Bundle with the submission set (List), DocumentReferences and their Binaries.
        One response entry per request entry, in order.

        All or nothing, in two checks and one deposit. The facade first reads every entry (fhir_mapping.
        provided_documents: the SubmissionSet List, each DocumentReference's masterIdentifier, codes and Binary,
        one patient) and refuses the Bundle naming the first entry and element at fault before calling anything.
        Then the whole submission set goes to the dossier in one call, dossier.add_submission_set (add_documents,
        the deposit RPC the REST API uses, also keeping the set for ITI-66: same rights, same DocumentSubmission
        validation, same rules; none of them is re-implemented here): it checks every document, and every document
        one replaces, before it stores the first, so a refusal of the 2nd document leaves nothing stored and
        nothing superseded. Its refusal names the document by position and its own field, which is named back as
        Bundle.entry[i].resource.<element>.
        What the checks cannot foresee (the store failing between two writes) leaves nothing anybody is shown:
        the documents are written pending and released together in one write, and the set is shown only with
        its released documents. The error is answered as such (5xx), and the same Bundle sent again (the same
        SubmissionSet uniqueId, the same content) completes that deposit, or answers it if it was complete:
        never a second one. Superseding the documents they replace comes after the release; a failure there
        leaves the old version current too until the retry supersedes it."""
        ins, documents, binaries, replaces = mapping.provided_documents(bundle)
        for index, _ in documents:
            try:
                check_authors(request, token, bundle["entry"][index]["resource"])
            except InvalidInput as error:
                raise _at_entry(error, index) from None
        set_index, kept_set = fhir_list.provided_set(bundle)
        try:
            added = services().dossier.add_submission_set(
                token, ins, kept_set, [payload for _, payload in documents], replaces
            )
        except DmpError as error:
            error = fhir_list.at_set_entry(error, set_index)
            raise _at_entries(error, [index for index, _ in documents]) from None
        stored = added["documents"]
        created = {index: document for (index, _), document in zip(documents, stored, strict=True)}
        responses: list[dict[str, Any]] = []
        for index, entry in enumerate(bundle["entry"]):
            kind = entry["resource"].get("resourceType")
            if kind == "DocumentReference":
                document = created[index]
                responses.append(
                    {
                        "response": {
                            "status": "201 Created",
                            "location": versioned_location(document),
                            "etag": version_headers(document)["ETag"],
                            "lastModified": mapping.last_updated(document),
                        }
                    }
                )
            elif kind == "Binary":
                document = created[binaries[index]]
                location = (
                    f"Binary/{mapping.fhir_id(document['document_id'])}/_history/{BINARY_VERSION}"
                )
                responses.append(
                    {
                        "response": {
                            "status": "201 Created",
                            "location": location,
                            "lastModified": document["created_at"],
                        }
                    }
                )
            elif (
                kind == "Parameters"
            ):  # PDSm4DMP's PATCH of the replaced document: the deposit superseded it
                responses.append({"response": {"status": "200 OK"}})
            else:  # the submission set, kept with its documents: ITI-66 finds it
                location = f"List/{mapping.fhir_id(added['submission_set_id'])}/_history/1"
                responses.append({"response": {"status": "201 Created", "location": location}})
        return {"resourceType": "Bundle", "type": "transaction-response", "entry": responses}

    return api
