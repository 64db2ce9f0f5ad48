"""Between the DMP's shapes and FHIR R4 resources, following IHE MHD as profiled by France's ANS: pure
functions, no I/O. Patients are identified by the INS identifier system; document classes by TRE_A03;
visibility codes (TRE_A07) and HL7 confidentiality travel as DocumentReference.securityLabel."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from typing import Any
from urllib.parse import parse_qsl

from services.common.codes import CATEGORIES, INS_SYSTEM
from services.common.errors import InvalidInput, NotFound
from services.dossier.schemas import UNIQUE_ID as UNIQUE_ID_PATTERN

CLASS_SYSTEM = "urn:oid:1.2.250.1.213.1.1.4.1"  # TRE_A03 ClasseDocument
TYPE_SYSTEM_NATIONAL = "urn:oid:1.2.250.1.213.1.1.4.12"  # TRE_A05 TypeDocComplementaire
LOINC = "http://loinc.org"
VISIBILITY_SYSTEM = "urn:oid:1.2.250.1.213.1.1.4.13"  # TRE_A07 StatutVisibiliteDocument
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
# The same code systems under the names the French value sets use (JDV_J08 XdsConfidentialityCode-CISIS: the NOS
# URLs) and HL7's OID: accepted at deposit, shown back under the names above.
CONFIDENTIALITY_SYSTEMS = {
    CONFIDENTIALITY,
    "urn:oid:2.16.840.1.113883.5.25",
    "https://mos.esante.gouv.fr/NOS/TRE_A08-HL7Confidentiality/FHIR/TRE-A08-HL7Confidentiality",
}
VISIBILITY_SYSTEMS = {
    VISIBILITY_SYSTEM,
    "https://mos.esante.gouv.fr/NOS/TRE_A07-StatutVisibiliteDocument/FHIR/"
    "TRE-A07-StatutVisibiliteDocument",
}
RPPS_SYSTEM = (
    "urn:oid:1.2.250.1.71.4.2.1"  # the IdNat_PS (ANS's national identifiers of professionals)
)
# IdNat_PS of a professional with an RPPS: 8 + the RPPS (0 + ADELI is out of as-practitioner); typed IDNPS.
IDNPS_RPPS_PREFIX = "8"
IDNAT_PS = re.compile(r"^8\d{11}$")
IDNPS_TYPE = {
    "system": "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203",
    "code": "IDNPS",
}
AUTHOR_ID = "author"  # the contained Practitioner's id, which DocumentReference.author references
IS_ARCHIVED = (
    "https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/pdsm-ext-is-archived"  # PDSm
)
STATUS = {
    "current": "current",
    "archived": "current",
    "replaced": "superseded",
    "deleted": "entered-in-error",
}
LOINC_CODE = re.compile(r"^\d{1,6}-\d$")


DOCUMENT_SYSTEM = "urn:dmp:document"  # DocumentReference.identifier: our document id
URI_SYSTEM = "urn:ietf:rfc:3986"  # masterIdentifier (MHD UniqueIdIdentifier): an OID or UUID URN
UNIQUE_ID = re.compile(UNIQUE_ID_PATTERN)
DOCUMENT_ID = re.compile(r"^doc_[0-9a-f]{32}$")
FHIR_DOCUMENT_ID = re.compile(r"^doc-[0-9a-f]{32}$")
FHIR_PATIENT_ID = re.compile(r"^pat-[0-9a-f]{32}$")


def type_system(type_code: str) -> str:
    """The code system a type code is emitted in: LOINC for LOINC-shaped codes, else the national one."""
    return LOINC if LOINC_CODE.match(type_code) else TYPE_SYSTEM_NATIONAL


def document_reference(document: dict[str, Any], ins: str, base_url: str) -> dict[str, Any]:
    type_system_ = type_system(document["type_code"])
    author = document["author"]
    labels = [
        {"system": VISIBILITY_SYSTEM, "code": code} for code in document.get("visibility", [])
    ]
    labels.append({"system": CONFIDENTIALITY, "code": document.get("confidentiality", "N")})
    resource: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "id": fhir_id(document["document_id"]),
        # PDSm: an archived document is still current, hidden from default searches (isArchived=true finds it).
        "extension": [{"url": IS_ARCHIVED, "valueBoolean": document["status"] == "archived"}],
        "meta": {"versionId": version_id(document), "lastUpdated": last_updated(document)},
        "masterIdentifier": {"system": URI_SYSTEM, "value": unique_id(document)},
        "identifier": [
            {"use": "secondary", "system": DOCUMENT_SYSTEM, "value": document["document_id"]}
        ],
        "status": STATUS[document["status"]],
        "type": {"coding": [{"system": type_system_, "code": document["type_code"]}]},
        "category": [
            {
                "coding": [
                    {
                        "system": CLASS_SYSTEM,
                        "code": document["category"],
                        "display": CATEGORIES[document["category"]],
                    }
                ]
            }
        ],
        "subject": subject_of(document.get("patient_id"), ins),
        "date": document["created_at"],
        **author_elements(author["id"], document.get("author_name")),
        "description": document["title"],
        "securityLabel": [{"coding": [label]} for label in labels],
        "content": [
            {
                "attachment": {
                    "contentType": document["format"],
                    "url": f"{base_url}/fhir/Binary/{fhir_id(document['document_id'])}",
                    "size": document["size"],
                    "title": document["title"],
                    "creation": f"{document['care_date']}T00:00:00Z",
                }
            }
        ],
        "context": _context(document),
    }
    if document.get("format_code"):
        resource["content"][0]["format"] = coding_out(document["format_code"])
    if document.get("replaces"):
        target = {"reference": f"DocumentReference/{fhir_id(document['replaces'])}"}
        resource["relatesTo"] = [{"code": "replaces", "target": target}]
    return resource


def coding_out(coded: dict[str, Any]) -> dict[str, Any]:
    return {key: coded[key] for key in ("system", "code", "display") if coded.get(key) is not None}


def _concept_out(concept: dict[str, Any]) -> dict[str, Any]:
    shown: dict[str, Any] = {"coding": [coding_out(coded) for coded in concept["codings"]]}
    return {**shown, "text": concept["text"]} if concept.get("text") else shown


def _context(document: dict[str, Any]) -> dict[str, Any]:
    """DocumentReference.context: the period of care, and the codes its source gave (kept as sent)."""
    period = {
        "start": document.get("care_start") or document["care_date"],
        **({"end": document["care_end"]} if document.get("care_end") else {}),
    }
    context: dict[str, Any] = {"period": period}
    if document.get("events"):
        context["event"] = [_concept_out(concept) for concept in document["events"]]
    for field, element in (
        ("facility_type", "facilityType"),
        ("practice_setting", "practiceSetting"),
    ):
        if document.get(field):
            context[element] = _concept_out(document[field])
    if document.get("related"):
        context["related"] = [
            {"identifier": _related_out(related)} for related in document["related"]
        ]
    return context


def _related_out(related: dict[str, Any]) -> dict[str, Any]:
    shown: dict[str, Any] = {"value": related["value"]}
    if related.get("system"):
        shown["system"] = related["system"]
    return {"type": _concept_out(related["type"]), **shown} if related.get("type") else shown


def unique_id(document: dict[str, Any]) -> str:
    """The unique id its source gave it, else the UUID URN of our id (doc_<uuid4 hex>)."""
    if document.get("unique_id"):
        return str(document["unique_id"])
    hexa = document["document_id"].removeprefix("doc_")
    return f"urn:uuid:{hexa[:8]}-{hexa[8:12]}-{hexa[12:16]}-{hexa[16:20]}-{hexa[20:]}"


def version_id(document: dict[str, Any]) -> str:
    """Its revision: one more at each change of its metadata (status, visibility, replacement)."""
    return str(document.get("revision") or 1)


def last_updated(document: dict[str, Any]) -> str:
    return str(document.get("updated_at") or document["created_at"])


def fhir_id(document_id: str) -> str:
    return document_id.replace("_", "-")


def author_elements(actor_id: str, name: dict[str, str] | None = None) -> dict[str, Any]:
    """DocumentReference.author (and the resource it names). A professional is a contained Practitioner (PDSm:
    authors are contained) named by their IdNat_PS, as ANS's as-practitioner slice idNatPs has it, and by their
    registered name when the dossier kept it (author.given / author.family search it)."""
    if actor_id.startswith("rpps:"):
        practitioner: dict[str, Any] = {
            "resourceType": "Practitioner",
            "id": AUTHOR_ID,
            "identifier": [
                {
                    "use": "official",
                    "type": {"coding": [IDNPS_TYPE]},
                    "system": RPPS_SYSTEM,
                    "value": f"{IDNPS_RPPS_PREFIX}{actor_id.removeprefix('rpps:')}",
                }
            ],
        }
        if name:
            practitioner["name"] = [{"family": name["family"], "given": [name["given"]]}]
        return {"contained": [practitioner], "author": [{"reference": f"#{AUTHOR_ID}"}]}
    return {"author": [{"identifier": {"system": "urn:dmp:actor", "value": actor_id}}]}


def authors_named(reference: dict[str, Any]) -> list[str]:
    """The professionals a submitted DocumentReference names as its authors, as actor ids (rpps:<RPPS>): each
    author a contained Practitioner or PractitionerRole (or a Reference by identifier) carrying an IdNat_PS,
    8 + RPPS. InvalidInput naming the author at fault otherwise: an author is never dropped."""
    authors = reference.get("author")
    if authors is None:
        return []
    if not isinstance(authors, list):
        raise InvalidInput.for_field("author", "is a list of References")
    contained: dict[str, dict[str, Any]] = {
        str(item["id"]): item
        for item in reference.get("contained") or []
        if isinstance(item, dict) and isinstance(item.get("id"), str)
    }
    return [_author_named(author, contained, f"author[{n}]") for n, author in enumerate(authors)]


def _author_named(author: Any, contained: dict[str, dict[str, Any]], element: str) -> str:
    target = path(author, "reference")
    if target is None:
        identifier = path(author, "identifier")
        if identifier is None:
            raise InvalidInput.for_field(element, "names its author (reference or identifier)")
        return _idnat_ps([identifier], f"{element}.identifier")
    if not isinstance(target, str) or not target.startswith("#") or target[1:] not in contained:
        raise InvalidInput.for_field(
            f"{element}.reference",
            "must be a contained resource (#id), as PDSm has authors: another is not resolved here",
        )
    resource = contained[target[1:]]
    if resource.get("resourceType") not in {"Practitioner", "PractitionerRole"}:
        raise InvalidInput.for_field(
            f"{element}.reference",
            "must name a Practitioner or PractitionerRole: a document is deposited by its professional",
        )
    identifiers = resource.get("identifier") or []
    practitioner = path(resource, "practitioner", "reference")
    if not identifiers and isinstance(practitioner, str) and practitioner[1:] in contained:
        identifiers = contained[practitioner[1:]].get("identifier") or []
    if not identifiers and path(resource, "practitioner", "identifier") is not None:
        identifiers = [path(resource, "practitioner", "identifier")]
    return _idnat_ps(identifiers if isinstance(identifiers, list) else [], element)


def _idnat_ps(identifiers: list[Any], element: str) -> str:
    """The actor id of the IdNat_PS among these identifiers (system urn:oid:1.2.250.1.71.4.2.1, value 8 +
    RPPS, type IDNPS when typed)."""
    for identifier in identifiers:
        if path(identifier, "system") != RPPS_SYSTEM:
            continue
        value, kind = path(identifier, "value"), path(identifier, "type", "coding")
        if not isinstance(value, str) or not IDNAT_PS.match(value):
            raise InvalidInput.for_field(
                element, "an IdNat_PS is 8 followed by the professional's 11-digit RPPS"
            )
        if kind is not None and not (
            isinstance(kind, list)
            and any(
                isinstance(coding, dict)
                and coding.get("system") == IDNPS_TYPE["system"]
                and coding.get("code") == IDNPS_TYPE["code"]
                for coding in kind
            )
        ):
            raise InvalidInput.for_field(
                element, f"an IdNat_PS is typed {IDNPS_TYPE['system']}|{IDNPS_TYPE['code']}"
            )
        return f"rpps:{value.removeprefix(IDNPS_RPPS_PREFIX)}"
    raise InvalidInput.for_field(
        element, f"names the professional by IdNat_PS ({RPPS_SYSTEM}|8<RPPS>, type IDNPS)"
    )


def subject_of(patient_id: str | None, ins: str) -> dict[str, Any]:
    """The patient by INS, and by the id that `patient=Patient/<id>` searches take."""
    subject: dict[str, Any] = {"identifier": {"system": INS_SYSTEM, "value": ins}}
    if patient_id:
        subject = {"reference": f"Patient/{fhir_id(patient_id)}", **subject}
    return subject


def document_id(fhir_id: str) -> str:
    """FHIR ids allow no underscore: doc-<hex> in FHIR is doc_<hex> here. Any other id is passed on as it is,
    so that the dossier answers it exactly like an unknown one (404), and traces it as malformed."""
    return fhir_id.replace("-", "_", 1) if FHIR_DOCUMENT_ID.match(fhir_id) else fhir_id


def searched_document_id(fhir_id: str) -> str | None:
    """The document an `_id` search names, None for an id no document of ours can have (matches nothing)."""
    return fhir_id.replace("-", "_", 1) if FHIR_DOCUMENT_ID.match(fhir_id) else None


def is_document_id(value: str) -> bool:
    return bool(DOCUMENT_ID.match(value))


def patient_id(fhir_id: str) -> str:
    """pat-<hex> in FHIR is pat_<hex> here; another id of a plausible length is passed on (the dossier finds
    no patient by it), a longer one answers here as the dossier answers an unknown id."""
    if FHIR_PATIENT_ID.match(fhir_id):
        return fhir_id.replace("-", "_", 1)
    if len(fhir_id) > 64:
        raise NotFound("this patient has no dossier", [{"field": "patient_id"}])
    return fhir_id


def path(value: Any, *steps: str | int) -> Any:
    """value[step][step]..., or None where the resource does not have that shape (bad input, never a 500)."""
    for step in steps:
        if isinstance(step, int):
            value = value[step] if isinstance(value, list) and len(value) > step else None
        else:
            value = value.get(step) if isinstance(value, dict) else None
    return value


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def replaced_document(reference: dict[str, Any]) -> str | None:
    """The document a DocumentReference replaces (relatesTo replaces: DocumentReference/<id>), if any. Other
    relations are refused rather than dropped: a vendor must not believe an old version was superseded."""
    relations = reference.get("relatesTo") or []
    if not isinstance(relations, list) or not all(
        isinstance(relation, dict) for relation in relations
    ):
        raise InvalidInput.for_field("relatesTo", "must be a list of {code, target}")
    if any(relation.get("code") != "replaces" for relation in relations) or len(relations) > 1:
        raise InvalidInput.for_field(
            "relatesTo",
            "supports one relation, replaces (appends, transforms and signs are not kept)",
        )
    if not relations:
        return None
    target = _text(path(relations[0], "target", "reference")) or ""
    kind, _, fhir_id_ = target.rstrip("/").rpartition("/")
    if not kind.endswith("DocumentReference") or not fhir_id_:
        raise InvalidInput.for_field(
            "relatesTo",
            "target must reference a DocumentReference of this server (DocumentReference/<id>)",
        )
    return document_id(fhir_id_)


def _codings(labels: Any) -> list[dict[str, Any]]:
    if not isinstance(labels, list) or not all(
        isinstance(path(label, "coding"), list) for label in labels
    ):
        raise InvalidInput.for_field(
            "securityLabel", "must be a list of CodeableConcepts with their codings"
        )
    codings = [coding for label in labels for coding in label["coding"]]
    if not all(isinstance(coding, dict) for coding in codings):
        raise InvalidInput.for_field(
            "securityLabel", "must be a list of CodeableConcepts with their codings"
        )
    return codings


# Where the dossier's fields are in a DocumentReference: its refusals name the element a vendor sent.
FHIR_ELEMENTS = {
    "category": "category",
    "type_code": "type",
    "title": "description",
    "care_date": "context.period.start",
    "care_start": "context.period.start",
    "care_end": "context.period.end",
    "format": "content[0].attachment.contentType",
    "content": "content[0].attachment.data",
    "confidentiality": "securityLabel",
    "visibility": "securityLabel",
    "unique_id": "masterIdentifier",
    "format_code": "content[0].format",
    "facility_type": "context.facilityType",
    "practice_setting": "context.practiceSetting",
    "events": "context.event",
    "related": "context.related",
    "replaces": "relatesTo",
    "document_id": "relatesTo",  # in a deposit, the only document named is the one it replaces
}


def fhir_element(field: str) -> str:
    """The DocumentReference element a dossier field is (events.0.codings.1.code: context.event[0].coding[1].code);
    a field it does not hold is named as it is."""
    first, *rest = field.split(".")
    if first not in FHIR_ELEMENTS:
        return field
    path = FHIR_ELEMENTS[first]
    for number, part in enumerate(rest):
        path += f"[{part}]" if part.isdigit() else "." + ("coding" if part == "codings" else part)
        if first == "related" and number == 0 and part.isdigit():
            path += ".identifier"  # a related identifier is a Reference's identifier
    return path


CODING_KEYS = {"system", "code", "display"}


def coding_in(value: Any, element: str) -> dict[str, Any]:
    """A Coding as the dossier keeps it; what it would not keep (version, userSelected, extensions) is refused,
    never dropped."""
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("system"), str)
        or not isinstance(value.get("code"), str)
    ):
        raise InvalidInput.for_field(element, "must be a Coding with its system and code")
    if set(value) - CODING_KEYS:
        raise InvalidInput.for_field(element, "keeps system, code and display only")
    if value.get("display") is not None and not isinstance(value["display"], str):
        raise InvalidInput.for_field(f"{element}.display", "must be a string")
    return {key: value[key] for key in CODING_KEYS if value.get(key) is not None}


def _concept(value: Any, element: str) -> dict[str, Any]:
    codings = path(value, "coding")
    if not isinstance(value, dict) or not isinstance(codings, list) or not codings:
        raise InvalidInput.for_field(element, "must be a CodeableConcept with its coding")
    if set(value) - {"coding", "text"}:
        raise InvalidInput.for_field(element, "keeps coding and text only")
    if value.get("text") is not None and not isinstance(value["text"], str):
        raise InvalidInput.for_field(f"{element}.text", "must be a string")
    concept: dict[str, Any] = {
        "codings": [coding_in(coded, f"{element}.coding[{n}]") for n, coded in enumerate(codings)]
    }
    return {**concept, "text": value["text"]} if value.get("text") is not None else concept


def _related(value: Any, element: str) -> dict[str, Any]:
    """A related identifier (PDSm: referenceIdList), as a Reference by identifier; a literal reference would
    name a resource this server does not hold, so it is refused rather than dropped."""
    identifier = path(value, "identifier")
    if (
        not isinstance(value, dict)
        or set(value) != {"identifier"}
        or not isinstance(identifier, dict)
    ):
        raise InvalidInput.for_field(
            element,
            "must be a Reference by identifier only ({identifier: {type, system, "
            "value}}): a related resource is not kept",
        )
    if set(identifier) - {"type", "system", "value"}:
        raise InvalidInput.for_field(f"{element}.identifier", "keeps type, system and value only")
    for key in ("system", "value"):
        if identifier.get(key) is not None and not isinstance(identifier[key], str):
            raise InvalidInput.for_field(f"{element}.identifier.{key}", "must be a string")
    kept: dict[str, Any] = {
        key: identifier[key] for key in ("system", "value") if identifier.get(key) is not None
    }
    if identifier.get("type") is not None:
        kept["type"] = _concept(identifier["type"], f"{element}.identifier.type")
    return kept


def _codes(reference: dict[str, Any]) -> dict[str, Any]:
    """The codes and end of care a DocumentReference carries, as DocumentSubmission fields (those it has)."""
    context = reference.get("context")
    context = context if isinstance(context, dict) else {}
    kept: dict[str, Any] = {}
    start = path(context, "period", "start")
    if isinstance(start, str) and "T" in start:  # kept as sent; its day is the date of care
        kept["care_start"] = start
    end = path(context, "period", "end")
    if end is not None:
        if not isinstance(end, str):
            raise InvalidInput.for_field("context.period.end", "must be a date or a date and time")
        kept["care_end"] = end
    for field, element in (
        ("facility_type", "facilityType"),
        ("practice_setting", "practiceSetting"),
    ):
        if context.get(element) is not None:
            kept[field] = _concept(context[element], f"context.{element}")
    events = context.get("event")
    if events is not None:
        if not isinstance(events, list):
            raise InvalidInput.for_field("context.event", "must be a list of CodeableConcepts")
        kept["events"] = [_concept(event, f"context.event[{n}]") for n, event in enumerate(events)]
    related = context.get("related")
    if related is not None:
        if not isinstance(related, list):
            raise InvalidInput.for_field("context.related", "must be a list of References")
        kept["related"] = [
            _related(value, f"context.related[{n}]") for n, value in enumerate(related)
        ]
    format_ = path(reference, "content", 0, "format")
    if format_ is not None:
        kept["format_code"] = coding_in(format_, "content[0].format")
    return kept


def _check_described(attachment: dict[str, Any], content: bytes) -> None:
    """The attachment's size and hash (SHA-1, base64), when its source gives them, describe these bytes: else
    the content was altered on the way, or is not the document described, and nothing is stored."""
    size = attachment.get("size")
    if size is not None and (type(size) is not int or size != len(content)):
        raise InvalidInput.for_field(
            "content[0].attachment.size", "is not the size of the document's bytes"
        )
    hash_ = attachment.get("hash")
    if (
        hash_ is not None
        and hash_
        != base64.b64encode(hashlib.sha1(content, usedforsecurity=False).digest()).decode()
    ):
        raise InvalidInput.for_field(
            "content[0].attachment.hash",
            "is not the SHA-1 (base64) of the document's "
            "bytes: altered on the way, or another document",
        )


def patient_ins(subject: Any) -> str | None:
    """The INS a subject names: by identifier ({system: INS, value}), or by PDSm4DMP's conditional reference
    (`Patient?identifier=urn:oid:1.2.250.1.213.1.4.8|<INS>`), which must agree; None when it names none."""
    identifier = path(subject, "identifier")
    by_identifier = _text(path(identifier, "value"))
    if identifier is not None and (
        by_identifier is None or path(identifier, "system") not in {None, INS_SYSTEM}
    ):
        raise InvalidInput.for_field(
            "subject.identifier", f"must name the patient by INS ({INS_SYSTEM}|<INS>)"
        )
    target = path(subject, "reference")
    if target is None or (
        by_identifier is not None and isinstance(target, str) and "?" not in target
    ):
        return by_identifier  # a literal Patient/<id> beside the INS (as this server shows it) is not resolved
    kind, _, query = target.partition("?") if isinstance(target, str) else ("", "", "")
    pairs = parse_qsl(query, keep_blank_values=True)
    system, _, by_reference = (
        pairs[0][1].rpartition("|")
        if len(pairs) == 1 and pairs[0][0] == "identifier"
        else ("", "", "")
    )
    if kind.rstrip("/").rpartition("/")[2] != "Patient" or system != INS_SYSTEM or not by_reference:
        raise InvalidInput.for_field(
            "subject.reference",
            f"must be Patient?identifier={INS_SYSTEM}|<INS> (the "
            "patient by INS; Patient/<id> is not resolved here)",
        )
    if by_identifier is not None and by_identifier != by_reference:
        raise InvalidInput.for_field(
            "subject", "names two patients (its reference and its identifier differ)"
        )
    return by_reference


def submission(
    reference: dict[str, Any], binary: dict[str, Any] | None = None
) -> tuple[str, dict[str, Any]]:
    """(INS, DocumentSubmission payload) from a DocumentReference and, for ITI-65, its Binary."""
    ins = patient_ins(reference.get("subject"))
    if ins is None:
        raise InvalidInput.for_field(
            "subject.identifier", f"must name the patient by INS ({INS_SYSTEM})"
        )
    category = _text(path(reference, "category", 0, "coding", 0, "code"))
    type_code = _text(path(reference, "type", "coding", 0, "code"))
    attachment = path(reference, "content", 0, "attachment")
    for field, value in (
        ("category", category),
        ("type", type_code),
        ("content.attachment", attachment if isinstance(attachment, dict) else None),
    ):
        if value is None:
            raise InvalidInput.for_field(
                field, "is required (a coded category and type, one content.attachment)"
            )
    if not isinstance(attachment, dict):  # checked just above; said again for the type checker
        raise InvalidInput.for_field("content.attachment", "is required")
    data = _text(path(binary, "data")) or _text(attachment.get("data"))
    content_type = _text(path(binary, "contentType")) or _text(attachment.get("contentType"))
    if not data or not content_type:
        raise InvalidInput.for_field(
            "content.attachment", "needs data (or a Binary in the Bundle) and contentType"
        )
    try:
        content = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput.for_field("content.attachment.data", "is not valid base64") from None
    _check_described(attachment, content)
    codings = _codings(reference.get("securityLabel") or [])
    kept_systems = VISIBILITY_SYSTEMS | CONFIDENTIALITY_SYSTEMS
    # Never dropped: a visibility label lost would show the document to whom it is hidden from.
    if any(
        not isinstance(coding.get("system"), str) or coding["system"] not in kept_systems
        for coding in codings
    ):
        raise InvalidInput.for_field(
            "securityLabel",
            f"keeps HL7 confidentiality ({CONFIDENTIALITY}, or TRE_A08) "
            f"and TRE_A07 visibility ({VISIBILITY_SYSTEM}) codes only; "
            "a coding of another system, or of none, is refused",
        )
    visibility = [
        coding.get("code") for coding in codings if coding.get("system") in VISIBILITY_SYSTEMS
    ]
    confidentiality = [
        coding.get("code") for coding in codings if coding.get("system") in CONFIDENTIALITY_SYSTEMS
    ]
    if len(confidentiality) > 1:
        raise InvalidInput.for_field(
            "securityLabel", f"holds one confidentiality code ({CONFIDENTIALITY}) at most"
        )
    care = (
        _text(path(reference, "context", "period", "start")) or _text(reference.get("date")) or ""
    )
    master = reference.get("masterIdentifier")
    if master is not None and (
        path(master, "system") != URI_SYSTEM or not UNIQUE_ID.match(str(path(master, "value")))
    ):
        raise InvalidInput.for_field(
            "masterIdentifier",
            f"must be {URI_SYSTEM}|urn:oid:<OID> or |urn:uuid:<UUID> (an MHD UniqueIdIdentifier)",
        )
    payload = {
        "category": category,
        "type_code": type_code,
        "format": content_type,
        "content": data,
        "title": _text(attachment.get("title")) or _text(reference.get("description")) or type_code,
        "care_date": care[:10],
        "visibility": visibility,
        **({"confidentiality": confidentiality[0]} if confidentiality else {}),
        **({"unique_id": master["value"]} if master is not None else {}),
        **_codes(reference),
    }
    return ins, payload


def operation_outcome(
    status: int,
    code: str,
    diagnostics: str,
    rule: str | None = None,
    fields: list[str] | None = None,
) -> dict[str, Any]:
    """`fields`: the parameters or elements at fault, named in `expression` for bad input (400, 406, 422)."""
    issue_code = {
        400: "invalid",
        401: "login",
        403: "forbidden",
        404: "not-found",
        406: "not-supported",
        409: "conflict",
        412: "conflict",  # a version precondition (If-Match) no longer holds
        413: "too-costly",
        422: "invalid",
        429: "throttled",
    }.get(status, "exception")
    issue: dict[str, Any] = {"severity": "error", "code": issue_code, "diagnostics": diagnostics}
    if rule:
        issue["details"] = {"coding": [{"system": "urn:dmp:rule", "code": rule}], "text": rule}
    if fields and status in {400, 406, 422}:
        issue["expression"] = fields
    return {"resourceType": "OperationOutcome", "issue": [issue]}


LIST_TYPES = "https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes"
RESOURCE_TYPE = re.compile(
    r"^[A-Z][A-Za-z]{1,40}$"
)  # named back in a refusal only when it looks like one


def _bundle_error(index: int, reason: str) -> InvalidInput:
    return InvalidInput.for_field(f"Bundle.entry[{index}]", reason)


def list_code(resource: dict[str, Any]) -> str | None:
    codings = path(resource, "code", "coding")
    if not isinstance(codings, list):
        return None
    return next(
        (c.get("code") for c in codings if isinstance(c, dict) and c.get("system") == LIST_TYPES),
        None,
    )


SUPERSEDING = [
    {"name": "type", "valueCode": "replace"},
    {"name": "path", "valueString": "DocumentReference.status"},
    {"name": "value", "valueCode": "superseded"},
]


def _check_superseding(
    index: int, url: Any, patch: dict[str, Any], replaces: list[str | None]
) -> None:
    """PDSm4DMP's replacement also PATCHes the old DocumentReference to superseded (FHIRPath Patch): accepted
    only as exactly that, and of a document a DocumentReference of the Bundle replaces, which the deposit
    supersedes (never a change of its own: other changes of a document are not made in a transaction)."""
    kind, _, fhir_id_ = url.rstrip("/").rpartition("/") if isinstance(url, str) else ("", "", "")
    if kind != "DocumentReference" or document_id(fhir_id_) not in {old for old in replaces if old}:
        raise InvalidInput.for_field(
            f"Bundle.entry[{index}].request.url",
            "a PATCH must name DocumentReference/<id> "
            "of the document a DocumentReference of this Bundle replaces (relatesTo)",
        )
    operations = patch.get("parameter")
    parts = path(operations, 0, "part")
    if (
        set(patch) - {"resourceType", "id", "meta"} != {"parameter"}
        or not isinstance(operations, list)
        or len(operations) != 1
        or path(operations, 0, "name") != "operation"
        or not isinstance(parts, list)
        or sorted(parts, key=lambda part: str(path(part, "name")))
        != sorted(SUPERSEDING, key=lambda part: part["name"])
    ):
        raise _bundle_error(
            index,
            "a PATCH in ITI-65 is one operation, replace DocumentReference.status by "
            "superseded (other changes are not made in a transaction)",
        )


def provided_documents(
    bundle: dict[str, Any],
) -> tuple[str, list[tuple[int, dict[str, Any]]], dict[int, int], list[str | None]]:
    """ITI-65: (INS, [(entry index, DocumentSubmission payload)], {Binary's entry: its DocumentReference's entry},
    [the document each replaces, or None]) from a transaction Bundle, every entry checked before anything is
    stored: one SubmissionSet List,
    DocumentReferences of one patient, each Binary referred to by one DocumentReference's attachment.url;
    nothing else."""
    if bundle.get("resourceType") != "Bundle" or bundle.get("type") != "transaction":
        raise InvalidInput.for_field("Bundle.type", "must be a transaction Bundle")
    entries = bundle.get("entry")
    if not isinstance(entries, list) or not entries:
        raise InvalidInput.for_field("Bundle.entry", "is empty")
    resources: list[dict[str, Any]] = []
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            raise _bundle_error(index, "has no resource")
        method, url = path(entry, "request", "method"), path(entry, "request", "url")
        if method == "PATCH" and resource.get("resourceType") == "Parameters":
            resources.append(resource)  # checked below, with the DocumentReferences
            continue
        if method != "POST":
            raise _bundle_error(
                index,
                "must be a POST (request.method): ITI-65 creates (a PATCH is PDSm4DMP's "
                "superseding of a replaced document, as Parameters)",
            )
        if url is not None and (
            not isinstance(url, str) or url.rstrip("/") != resource.get("resourceType")
        ):
            raise InvalidInput.for_field(
                f"Bundle.entry[{index}].request.url",
                "must name the type of the resource it creates",
            )
        resources.append(resource)
    kinds = [resource.get("resourceType") for resource in resources]
    sets = [
        index
        for index, resource in enumerate(resources)
        if kinds[index] == "List" and list_code(resource) == "submissionset"
    ]
    if len(sets) != 1:
        raise InvalidInput.for_field(
            "Bundle.entry",
            f"must hold exactly one SubmissionSet List (List.code "
            f"{LIST_TYPES}|submissionset); it holds {len(sets)}",
        )
    binaries: dict[str, tuple[int, dict[str, Any]]] = {}
    for index, resource in enumerate(resources):
        if kinds[index] == "Binary":
            url = _text(entries[index].get("fullUrl"))
            if url is None or url in binaries:
                raise _bundle_error(
                    index,
                    "is a Binary without a fullUrl of its own (DocumentReferences refer to it)",
                )
            binaries[url] = (index, resource)
    used: dict[int, int] = {}
    documents: list[tuple[int, dict[str, Any]]] = []
    replaces: list[str | None] = []
    patients: set[str] = set()
    for index, resource in enumerate(resources):
        if kinds[index] == "List" and index in sets:
            continue
        if kinds[index] == "List" and list_code(resource) == "folder":
            raise _bundle_error(
                index,
                "is a Folder List: the DMP keeps no folders (PDSm4DMP maps its documents and submission "
                "sets to FHIR, not its folders); send the Bundle without it",
            )
        if kinds[index] in {"Binary", "Parameters"}:
            continue
        if kinds[index] != "DocumentReference":
            named = kinds[index]
            kind = named if isinstance(named, str) and RESOURCE_TYPE.match(named) else "it"
            raise _bundle_error(
                index,
                f"{kind} is not accepted here: a SubmissionSet List, DocumentReferences"
                " and their Binaries (the patient is named by INS in subject.identifier)",
            )
        url = _text(path(resource, "content", 0, "attachment", "url"))
        binary = binaries.get(url) if url else None
        if binary:
            if binary[0] in used:
                raise _bundle_error(
                    index, "refers to a Binary another DocumentReference already refers to"
                )
            used[binary[0]] = index
        if resource.get("masterIdentifier") is None:
            raise InvalidInput.for_field(
                f"Bundle.entry[{index}].resource.masterIdentifier",
                (
                    f"is required (MHD UniqueIdIdentifier: {URI_SYSTEM} with a urn:oid: or urn:uuid: value): the "
                    "document's own unique id, by which its source finds and replaces it"
                ),
            )
        try:
            ins, payload = submission(resource, binary[1] if binary else None)
            replaces.append(replaced_document(resource))
        except InvalidInput as error:
            details = [
                {"field": f"Bundle.entry[{index}].resource.{d['field']}", "reason": d["reason"]}
                for d in error.details
            ]
            raise InvalidInput(InvalidInput.summary(details), details) from None
        patients.add(ins)
        documents.append((index, payload))
    if not documents:
        raise InvalidInput.for_field("Bundle.entry", "holds no DocumentReference")
    for index, resource in enumerate(resources):
        if kinds[index] == "Parameters":
            _check_superseding(index, path(entries[index], "request", "url"), resource, replaces)
    unused = sorted({index for index, _ in binaries.values()} - set(used))
    if unused:
        raise _bundle_error(
            unused[0], "is a Binary no DocumentReference's content.attachment.url refers to"
        )
    submission_set = resources[sets[0]]
    try:
        subject = patient_ins(submission_set.get("subject"))
    except InvalidInput as error:
        raise _bundle_error(
            sets[0], "; ".join(f"List.{d['field']} {d['reason']}" for d in error.details)
        ) from None
    if len(patients) > 1 or (subject and subject not in patients):
        raise InvalidInput.for_field(
            "Bundle.entry",
            "a submission set is about one patient: its List.subject and "
            "every DocumentReference.subject must name the same INS",
        )
    return patients.pop(), documents, used, replaces
