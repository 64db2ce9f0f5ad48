"""IHE MHD's SubmissionSet List, both ways: what ITI-65's List says of a submission set (kept with its documents),
and the List ITI-66 (Find Document Lists) answers, with its search parameters. Pure functions, no I/O.

Search follows services/gateway/fhir_search.py (the same patient, _count, date and strict-handling machinery):
every parameter is one more condition of the dossier's search_submission_sets, which only ever shows a set
with the documents the caller may see. Folders are not kept: `code=folder` matches nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.common.codes import INS_SYSTEM
from services.common.errors import DmpError, InvalidInput
from services.dossier.schemas import UNIQUE_ID as UNIQUE_ID_PATTERN
from services.gateway import fhir_mapping as mapping
from services.gateway import fhir_search
from services.gateway.fhir_search import InvalidSearch

MHD = "https://profiles.ihe.net/ITI/MHD/StructureDefinition/"
SOURCE_ID = f"{MHD}ihe-sourceId"
DESIGNATION_TYPE = f"{MHD}ihe-designationType"
INTENDED_RECIPIENTS = {
    f"{MHD}ihe-intendedRecipient",
    "https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/pdsm-ext-intended-recipient",
}
INTENDED_RECIPIENT = (  # as emitted: PDSm's slice of List.extension
    "https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/pdsm-ext-intended-recipient"
)
PROFILE = f"{MHD}IHE.MHD.Minimal.SubmissionSet"
LIST_STATUSES = ("current", "retired", "entered-in-error")  # List.status; every set kept is current
FHIR_SET_ID = re.compile(r"^sub-[0-9a-f]{32}$")
CORE = "http://hl7.org/fhir/SearchParameter/"
# What ITI-66 serves, exactly: (name, type, definition, what it searches), as fhir.SEARCH_PARAMETERS.
LIST_PARAMETERS = [
    (
        "patient",
        "reference",
        f"{CORE}clinical-patient",
        "the patient by id (Patient/<id>, as in List.subject.reference); one per search",
    ),
    (
        "patient.identifier",
        "token",
        None,
        f"the patient by INS ({INS_SYSTEM}|<INS>); one per search",
    ),
    ("_id", "token", f"{CORE}Resource-id", "List ids; a comma-separated list is an OR"),
    (
        "identifier",
        "token",
        f"{CORE}clinical-identifier",
        f"the source's uniqueId or the entryUUID ({mapping.URI_SYSTEM}|urn:oid:... or urn:uuid:...); "
        "a comma-separated list is an OR",
    ),
    (
        "code",
        "token",
        f"{CORE}clinical-code",
        f"{mapping.LIST_TYPES}|submissionset (folders are not kept: folder matches nothing)",
    ),
    (
        "status",
        "token",
        f"{CORE}List-status",
        "current (every submission set kept is), retired, entered-in-error; a comma-separated list is an OR",
    ),
    (
        "date",
        "date",
        f"{CORE}clinical-date",
        "List.date (when it was submitted); prefixes eq ge gt le lt sa eb; repeat to bound a range",
    ),
    (
        "_lastUpdated",
        "date",
        f"{CORE}Resource-lastUpdated",
        "meta.lastUpdated (a submission set never changes: its submission); prefixes as date",
    ),
    (
        "designationType",
        "token",
        "https://profiles.ihe.net/ITI/MHD/SearchParameter/List-DesignationType",
        "the designationType extension's code (system|code, or a code in any system); a comma is an OR",
    ),
    (
        "sourceId",
        "token",
        "https://profiles.ihe.net/ITI/MHD/SearchParameter/List-SourceId",
        f"the sourceId extension ({mapping.URI_SYSTEM}|urn:oid:...); a comma-separated list is an OR",
    ),
    (
        "source.given",
        "string",
        None,
        "the submitter's registered given name (the contained Practitioner's name.given) starts so, case and "
        "accents aside; source.given:exact, as registered; a comma-separated list is an OR, a repeat an AND",
    ),
    (
        "source.family",
        "string",
        None,
        "the submitter's registered family name (name.family) starts so, case and accents aside; "
        "source.family:exact, as registered; a comma-separated list is an OR, a repeat an AND",
    ),
]
SUPPORTED = {name for name, _, _, _ in LIST_PARAMETERS} | {"_lastupdated", "_count", "_cursor"}
NAMES = {"source.given": "source_given", "source.family": "source_family"}
DATES = {"date": "submitted", "_lastUpdated": "submitted", "_lastupdated": "submitted"}


@dataclass
class ListSearch:
    """A search as the dossier will run it, with the parameters applied (for the self link) and left out."""

    ins: str | None = None
    query: dict[str, Any] = field(default_factory=dict)
    applied: list[tuple[str, str]] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)
    matches_nothing: bool = (
        False  # another patient identifier system, a folder, a status no set has
    )


def parse(pairs: list[tuple[str, str]]) -> ListSearch:
    search = ListSearch()
    tokens: dict[str, list[set[str]]] = {}
    lowers: list[datetime] = []
    uppers: list[datetime] = []
    for name, value in pairs:
        if value == "":
            continue  # FHIR: a parameter without a value is ignored
        if name.removesuffix(fhir_search.EXACT) in NAMES:
            search.applied.append((name, value))
            fhir_search.apply_name(search.query, name, value, NAMES)
            continue
        if name not in SUPPORTED:
            if name not in search.unsupported:
                search.unsupported.append(name)
            continue
        search.applied.append((name, value))
        once = name in {"_count", "_cursor", "patient", "patient.identifier"}
        if once and any(earlier == name for earlier, _ in search.applied[:-1]):
            raise InvalidSearch.of(name, "is given more than once")
        if name == "patient":
            search.query["patient_id"] = fhir_search.patient_id_of(value)
        elif name == "patient.identifier":
            ins = fhir_search.ins_of(value)
            search.ins, search.matches_nothing = (ins, False) if ins else (None, True)
        elif name in DATES:
            lower, upper = fhir_search.date_bounds(name, value)
            lowers.extend([lower] if lower else [])
            uppers.extend([upper] if upper else [])
        elif name == "_count":
            search.query["limit"] = fhir_search.count_of(value)
            search.applied[-1] = (name, str(search.query["limit"]))
        elif name == "_cursor":
            search.query["cursor"] = value
        elif name in {"code", "status"}:
            if not _one_of(name, value):
                search.matches_nothing = True
        else:
            tokens.setdefault(name, []).append(_tokens(name, value))
    if search.ins is None and "patient_id" not in search.query and not search.matches_nothing:
        raise InvalidSearch.of(
            "patient",
            f"patient (Patient/<id>) or patient.identifier ({INS_SYSTEM}|<INS>) is required",
        )
    fields = {
        "_id": "submission_set_id",
        "identifier": "identifier",
        "designationType": "designation_type",
        "sourceId": "source_id",
    }
    for name, occurrences in tokens.items():
        search.query[fields[name]] = sorted(set.intersection(*occurrences))  # a repeat is an AND
    if lowers:
        search.query["submitted_from"] = max(lowers).astimezone(UTC).isoformat()
    if uppers:
        search.query["submitted_before"] = min(uppers).astimezone(UTC).isoformat()
    search.query.setdefault("limit", fhir_search.DEFAULT_COUNT)
    return search


def _one_of(name: str, value: str) -> bool:
    """code and status: does this OR-list name what every set kept is (a submission set, current)?"""
    matched = False
    for token in value.split(","):
        system, bar, code = token.rpartition("|")
        if name == "status":
            if code not in LIST_STATUSES:
                raise InvalidSearch.of(name, f"must be one of {', '.join(LIST_STATUSES)}")
            matched |= code == "current" and not bar
        else:
            matched |= code == "submissionset" and (not bar or system == mapping.LIST_TYPES)
    return matched


def _tokens(name: str, value: str) -> set[str]:
    """What one occurrence of a token parameter matches, in the dossier's terms (an OR of its values); a
    system that is not the one the facade emits matches nothing."""
    matched: set[str] = set()
    for token in value.split(","):
        system, bar, code = token.rpartition("|")
        if name == "_id":
            if not bar and FHIR_SET_ID.match(code):
                matched.add(code.replace("-", "_", 1))
        elif name == "designationType":
            if len(token) <= 330 and code and "|" not in system:
                matched.add(token if bar else code)
        elif (not bar or system == mapping.URI_SYSTEM) and mapping.UNIQUE_ID.match(code):
            matched.add(code)  # identifier, sourceId
    return matched


def set_id(fhir_id: str) -> str:
    """sub-<hex> in FHIR is sub_<hex> here; another id is passed on, so the dossier answers it as unknown."""
    return fhir_id.replace("-", "_", 1) if FHIR_SET_ID.match(fhir_id) else fhir_id


def entry_uuid(submission_set_id: str) -> str:
    hexa = submission_set_id.removeprefix("sub_")
    return f"urn:uuid:{hexa[:8]}-{hexa[8:12]}-{hexa[12:16]}-{hexa[16:20]}-{hexa[20:]}"


def submission_set(resource: dict[str, Any], index: int) -> dict[str, Any]:
    """ITI-65: what the SubmissionSet List (the Bundle's entry `index`) says of the set, as the dossier's
    SubmissionSetSubmission. What would not be kept whole is refused naming its element, never dropped."""
    at = f"Bundle.entry[{index}].resource"
    kept: dict[str, Any] = {}
    for position, identifier in enumerate(_listed(resource.get("identifier"), f"{at}.identifier")):
        where = f"{at}.identifier[{position}]"
        use = mapping.path(identifier, "use")
        if use == "official":
            continue  # the entryUUID: the Document Recipient gives the List its own (its id)
        value = mapping.path(identifier, "value")
        if (
            mapping.path(identifier, "system") != mapping.URI_SYSTEM
            or not isinstance(value, str)
            or not mapping.UNIQUE_ID.match(value)
            or "unique_id" in kept
        ):
            raise InvalidInput.for_field(
                where,
                f"must be the one uniqueId ({mapping.URI_SYSTEM} with a urn:oid: or urn:uuid: value, use "
                "usual); an entryUUID has use official",
            )
        kept["unique_id"] = value
    title = resource.get("title")
    if title is not None:
        if not isinstance(title, str) or not 1 <= len(title.strip()) <= 200:
            raise InvalidInput.for_field(f"{at}.title", "must be a text of 1 to 200 characters")
        kept["title"] = title.strip()
    recipients: list[str] = []
    for position, extension in enumerate(_listed(resource.get("extension"), f"{at}.extension")):
        where = f"{at}.extension[{position}]"
        url = mapping.path(extension, "url")
        if url == SOURCE_ID:
            value = mapping.path(extension, "valueIdentifier", "value")
            system = mapping.path(extension, "valueIdentifier", "system")
            if system not in {None, mapping.URI_SYSTEM} or not (
                isinstance(value, str) and UNIQUE_ID.match(value)
            ):
                raise InvalidInput.for_field(
                    f"{where}.valueIdentifier",
                    f"must be the source's OID ({mapping.URI_SYSTEM}|urn:oid:...)",
                )
            kept["source_id"] = value
        elif url == DESIGNATION_TYPE:
            codings = mapping.path(extension, "valueCodeableConcept", "coding")
            if not isinstance(codings, list) or len(codings) != 1:
                raise InvalidInput.for_field(
                    f"{where}.valueCodeableConcept", "must hold one coding (system, code, display)"
                )
            kept["designation_type"] = mapping.coding_in(
                codings[0], f"{where}.valueCodeableConcept.coding[0]"
            )
        elif url in INTENDED_RECIPIENTS:
            reference = mapping.path(extension, "valueReference", "reference")
            if not isinstance(reference, str) or reference.startswith("#") or " " in reference:
                raise InvalidInput.for_field(
                    f"{where}.valueReference",
                    "must be a literal reference (PractitionerRole/<id>, Organization/<id>...): "
                    "contained resources are not kept",
                )
            recipients.append(reference)
    if recipients:
        kept["intended_recipients"] = recipients
    return kept


UNIQUE_ID = re.compile(UNIQUE_ID_PATTERN)


def _listed(value: Any, element: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput.for_field(element, "must be a list")
    return value


def source_of(actor_id: str, name: dict[str, str] | None = None) -> dict[str, Any]:
    """List.source (a single Reference) and the resource it names, from the document's author elements."""
    author = mapping.author_elements(actor_id, name)
    contained = {"contained": author["contained"]} if "contained" in author else {}
    return {**contained, "source": author["author"][0]}


def list_resource(found: dict[str, Any], ins: str, base_url: str) -> dict[str, Any]:
    """ITI-66's List (IHE.MHD.Minimal.SubmissionSet) of a submission set as the dossier shows it to the caller:
    its entries are the documents they may see, in the order submitted."""
    own = found["submission_set_id"]
    extensions: list[dict[str, Any]] = []
    if found.get("source_id"):
        extensions.append(
            {
                "url": SOURCE_ID,
                "valueIdentifier": {"system": mapping.URI_SYSTEM, "value": found["source_id"]},
            }
        )
    if found.get("designation_type"):
        extensions.append(
            {
                "url": DESIGNATION_TYPE,
                "valueCodeableConcept": {"coding": [mapping.coding_out(found["designation_type"])]},
            }
        )
    extensions += [
        {"url": INTENDED_RECIPIENT, "valueReference": {"reference": reference}}
        for reference in found.get("intended_recipients") or []
    ]
    submitted = _instant(found["submitted_at"])
    resource: dict[str, Any] = {
        "resourceType": "List",
        "id": mapping.fhir_id(own),
        "meta": {"versionId": "1", "lastUpdated": submitted, "profile": [PROFILE]},
        **({"extension": extensions} if extensions else {}),
        "identifier": [
            {
                "use": "usual",
                "system": mapping.URI_SYSTEM,
                "value": found.get("unique_id") or entry_uuid(own),
            },
            {"use": "official", "system": mapping.URI_SYSTEM, "value": entry_uuid(own)},
        ],
        "status": "current",
        "mode": "working",
        **({"title": found["title"]} if found.get("title") else {}),
        "code": {
            "coding": [
                {"system": mapping.LIST_TYPES, "code": "submissionset", "display": "Submission Set"}
            ]
        },
        "subject": mapping.subject_of(found.get("patient_id"), ins),
        "date": submitted,
        # Who submitted it, as DocumentReference.author names them (a contained IdNat_PS Practitioner).
        **source_of(str(found["author"]["id"]), found.get("author_name")),
        "entry": [
            {"item": {"reference": f"DocumentReference/{mapping.fhir_id(d['document_id'])}"}}
            for d in found["documents"]
        ],
    }
    return resource


def _instant(value: str) -> str:
    """FHIR's instant, in UTC with milliseconds (as DocumentReference.date is shown)."""
    moment = datetime.fromisoformat(value).astimezone(UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def provided_set(bundle: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """ITI-65: (the entry of the Bundle's SubmissionSet List, what it says of the set), once
    fhir_mapping.provided_documents has checked that the Bundle holds exactly one."""
    for index, entry in enumerate(bundle["entry"]):
        resource = entry["resource"]
        if (
            resource.get("resourceType") == "List"
            and mapping.list_code(resource) == "submissionset"
        ):
            return index, submission_set(resource, index)
    raise InvalidInput.for_field("Bundle.entry", "holds no SubmissionSet List")


ELEMENTS = {  # the dossier's field of a submission set -> the List's element
    "unique_id": "identifier",
    "source_id": "extension",
    "designation_type": "extension",
    "intended_recipients": "extension",
    "title": "title",
}


def at_set_entry(error: DmpError, index: int) -> DmpError:
    """A refusal of the dossier naming a field of the submission set (`submission_set.<field>`, or the bare field
    its typed boundary names; a document's refusal always names its `entry`) names the List's entry and element."""
    details = []
    for detail in error.details:
        name = str(detail.get("field", ""))
        own = name.removeprefix("submission_set").lstrip(".").split(".")[0]
        if "entry" not in detail and (name.startswith("submission_set") or own in ELEMENTS):
            element = ELEMENTS.get(own)
            detail = {
                **detail,
                "field": f"Bundle.entry[{index}].resource" + (f".{element}" if element else ""),
            }
        details.append(detail)
    return type(error)(error.message, details)
