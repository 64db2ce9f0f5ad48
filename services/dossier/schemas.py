"""dossier's contracts: what its RPC methods take and give back, and the shapes of them the gateway publishes. The
dossier's opening and lifecycle; documents (a deposit, its metadata and codes, a search, a change of visibility);
the reimbursement feed; the personal space; the care summary; submission sets.

The methods' own answers (after `# What the methods answer`) are what they answered before they were typed,
field for field: instants as `isoformat()` writes them (`+00:00`, where pydantic would write `Z`), and a moment
that has not happened absent, not null.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    PlainSerializer,
    ValidationInfo,
    field_validator,
    model_validator,
)

from services.common.codes import FORMATS
from services.common.schemas import Category, Ins, Mobile, Rpps, Strict
from services.dossier.records import ActorRef

# The dossier: its opening, where it stands


class DossierOpening(Strict):
    ins: Ins
    patient_consent: bool = Field(
        False,
        description="set by the professional's software after an explicit user action: the patient "
        "agreed to the opening. Not needed when the patient opens their own dossier.",
    )


class DossierOpened(BaseModel):
    dossier_id: str
    status: str
    channel: str
    opened_at: datetime


class DossierStatus(BaseModel):
    dossier_id: str
    status: Literal["open", "closed", "deletion_requested"]
    opened_at: datetime
    closed_at: datetime | None = Field(None, description="when it was last closed")
    reopened_at: datetime | None = None
    deletion_requested_at: datetime | None = Field(None, description="when deletion was asked for")
    purge_at: datetime | None = Field(
        None, description="when what is left is purged, unless reopened first"
    )


# Documents: a deposit, its codes, its metadata, a search


def _format(mime: str) -> str:
    if mime not in FORMATS:
        raise ValueError(f"must be one of {', '.join(FORMATS)}")
    return mime


UNIQUE_ID = r"^urn:(oid:[0-2](\.(0|[1-9][0-9]*))+|uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"


FHIR_DATE_TIME = r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2}))?$"


def _date_time(value: str) -> str:
    try:
        datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    except ValueError:
        raise ValueError("is not a date (YYYY-MM-DD) or a date and time with its offset") from None
    return value


CodeSystem = Annotated[
    str,
    Field(
        pattern=r"^(urn:[a-z0-9][a-z0-9-]{0,31}:|https?://)[^\s]+$",
        max_length=200,
        description="a code or identifier system, as a URN or URL",
        examples=["http://snomed.info/sct"],
    ),
]


class Coded(Strict):
    """A code as its source sent it (a FHIR Coding): which code system, which code, and its display. Kept and
    shown back as it came; the classes of the national lists in services/common/codes.py are checked there."""

    system: CodeSystem
    code: Annotated[
        str, Field(pattern=r"^[^\s]+( [^\s]+)*$", max_length=128, examples=["22232009"])
    ]
    display: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class Concept(Strict):
    """A coded concept (a FHIR CodeableConcept): one code or several meaning the same, and a text."""

    codings: Annotated[list[Coded], Field(min_length=1, max_length=5)]
    text: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class RelatedId(Strict):
    """An identifier the document is related to (XDS referenceIdList, FHIR context.related.identifier): an
    order, an accession number, a study, a care episode..."""

    value: Annotated[str, Field(min_length=1, max_length=200)]
    system: CodeSystem | None = None
    type: Concept | None = Field(
        None, description="what kind of identifier, e.g. urn:ihe:iti:xds:2013:accession"
    )


class DocumentSubmission(Strict):
    category: Annotated[Category, Field(description="TRE_A03 class", examples=["10"])]
    type_code: Annotated[
        str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$", examples=["11488-4"])
    ]
    title: Annotated[str, Field(min_length=1, max_length=200)]
    care_date: date
    format: Annotated[str, AfterValidator(_format), Field(examples=["application/pdf"])]
    content: Annotated[str, Field(min_length=1, description="the document's bytes, base64")]
    confidentiality: Literal["N", "R", "V"] = Field(
        "N", description="HL7 confidentiality: normal, restricted, very"
    )
    imaging_study: ImagingStudy | None = Field(
        None,
        description="imaging reports (class 31): where the images are; pixels are never stored here",
    )
    unique_id: Annotated[str, Field(pattern=UNIQUE_ID, max_length=128)] | None = Field(
        None,
        description="the document's unique id as its source made it (XDS uniqueId, FHIR masterIdentifier): "
        "an OID or UUID URN, once per dossier; a new version has its own",
        examples=["urn:oid:1.2.250.1.999.1.42"],
    )
    visibility: list[Literal["INVISIBLE_PATIENT", "INVISIBLE_REPRESENTANTS_LEGAUX"]] = Field(
        default_factory=list,
        description="set by a professional at deposit: INVISIBLE_PATIENT for a result awaiting an announcement "
        "consultation (released by its author, or automatically after one month); INVISIBLE_REPRESENTANTS_LEGAUX "
        "to keep a minor's secret",
    )
    care_start: (
        Annotated[str, Field(pattern=FHIR_DATE_TIME, max_length=40), AfterValidator(_date_time)]
        | None
    ) = Field(
        None,
        description="when the care started, as sent (FHIR context.period.start with its time and "
        "offset); its day is care_date",
        examples=["2026-11-20T10:00:00+01:00"],
    )
    care_end: (
        Annotated[str, Field(pattern=FHIR_DATE_TIME, max_length=40), AfterValidator(_date_time)]
        | None
    ) = Field(
        None,
        description="when the care it records ended (FHIR context.period.end), as sent: a date, or a date "
        "and time with its offset; not before care_date",
        examples=["2026-11-21"],
    )
    format_code: Coded | None = Field(
        None,
        description="its format code (XDS formatCode, FHIR content.format), e.g. urn:ihe:iti:xds:2017:"
        "mimeTypeSufficient",
    )
    facility_type: Concept | None = Field(
        None,
        description="the kind of place of care (XDS healthcareFacilityTypeCode, FHIR context.facilityType)",
    )
    practice_setting: Concept | None = Field(
        None,
        description="the clinical specialty of the care (XDS practiceSettingCode, FHIR context.practiceSetting)",
    )
    events: Annotated[list[Concept], Field(max_length=20)] = Field(
        default_factory=list,
        description="the acts or conditions it documents (XDS eventCodeList, FHIR context.event)",
    )
    related: Annotated[list[RelatedId], Field(max_length=20)] = Field(
        default_factory=list,
        description="identifiers it relates to (XDS referenceIdList, FHIR context.related)",
    )

    @field_validator("care_start")
    @classmethod
    def _starts_on_the_care_date(cls, care_start: str | None, info: ValidationInfo) -> str | None:
        day = info.data.get("care_date")
        if care_start is not None and isinstance(day, date) and care_start[:10] != day.isoformat():
            raise ValueError("is not on care_date (its day, as written, is the date of care)")
        return care_start

    @field_validator("care_end")
    @classmethod
    def _ends_after_it_starts(cls, care_end: str | None, info: ValidationInfo) -> str | None:
        start = info.data.get("care_date")
        if care_end is not None and isinstance(start, date) and care_end[:10] < start.isoformat():
            raise ValueError("is before care_date (the care ends after it starts)")
        return care_end


class ImagingStudy(Strict):
    study_instance_uid: Annotated[str, Field(pattern=r"^[0-2](\.(0|[1-9][0-9]*))+$", max_length=64)]
    viewer_url: Annotated[str, Field(pattern=r"^https://", max_length=500)]


DocumentStatus = Literal["current", "replaced", "archived", "deleted"]


class PersonName(BaseModel):
    """A professional's name as identity registered it (FHIR HumanName: given, family)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    given: str
    family: str


class DocumentMetadata(BaseModel):
    document_id: str
    dossier_id: str
    category: str
    type_code: str
    title: str
    care_date: date
    created_at: datetime
    format: str
    size: int
    sha256: str
    confidentiality: str = "N"
    visibility: list[str] = Field(default_factory=list, description="TRE_A07 codes, e.g. MASQUE_PS")
    status: DocumentStatus
    replaces: str | None = None
    replaced_by: str | None = None
    imaging_study: ImagingStudy | None = None
    author: dict[str, Any]
    author_name: PersonName | None = Field(
        None,
        description="its author's registered name, kept at deposit; none on documents deposited before it was",
    )
    patient_id: str | None = Field(
        None, description="the patient's id (FHIR Patient id, with - for _)"
    )
    unique_id: str | None = Field(
        None, description="its unique id as its source made it, if it gave one"
    )
    care_start: str | None = Field(
        None, description="when the care started, as its source sent it, if with a time"
    )
    care_end: str | None = Field(None, description="when the care ended, as its source sent it")
    format_code: Coded | None = None
    facility_type: Concept | None = None
    practice_setting: Concept | None = None
    events: list[Concept] = Field(default_factory=list)
    related: list[RelatedId] = Field(default_factory=list)
    revision: int = Field(
        1, description="1 at deposit, one more at each change of its metadata (FHIR versionId)"
    )
    updated_at: datetime | None = Field(
        None, description="when its metadata last changed; none: never since deposit"
    )


def _listed(value: Any) -> Any:
    """One value where a list is expected is a list of one (RPC callers that name a single status or type)."""
    return [value] if isinstance(value, str) else value


SearchedStatus = Literal["current", "archived", "replaced"]
SECURITY_LABELS = r"^([A-Z_]{1,40}(,[A-Z_]{1,40}){0,9})?$"  # an empty OR (no label) matches nothing
# FHIR string search on a name part: each value an OR of comma-separated names, repeated values ANDed.
NameGroups = Annotated[
    Annotated[list[Annotated[str, Field(min_length=1, max_length=1010)]], Field(max_length=10)]
    | None,
    BeforeValidator(_listed),
]
# OR-lists of `system|code` tokens, the lists ANDed (services/dossier/queries.py coded_as reads them).
CodeTokens = Annotated[
    Annotated[list[Annotated[str, Field(max_length=2000)]], Field(min_length=1, max_length=10)]
    | None,
    BeforeValidator(_listed),
]


class DocumentSearch(Strict):
    """Every list field is an OR of its values (absent: no filter; empty: matches nothing); the fields AND."""

    category: list[Category] | None = None
    type_code: Annotated[
        Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=50)] | None,
        BeforeValidator(_listed),
    ] = None
    author_id: Annotated[str, Field(max_length=64)] | None = None
    care_from: date | None = None
    care_to: date | None = None
    # The period of care as a range (FHIR `period`): from its date of care to its end (care_end's day), open
    # while it has no end. Each bound keeps the periods on its side (repeated FHIR prefixes AND).
    care_starts_from: date | None = Field(None, description="the care started on or after this day")
    care_starts_to: date | None = Field(None, description="the care started on or before this day")
    care_ends_from: date | None = Field(
        None, description="the care ended on or after this day, or has no end (is ongoing)"
    )
    care_ends_to: date | None = Field(
        None,
        description="the care ended on or before this day (a period without an end never does)",
    )
    created_from: AwareDatetime | None = Field(
        None, description="deposited at or after this instant"
    )
    created_before: AwareDatetime | None = Field(
        None, description="deposited strictly before this instant"
    )
    document_id: Annotated[
        Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=100)] | None,
        BeforeValidator(_listed),
    ] = None
    identifier: Annotated[
        Annotated[list[Annotated[str, Field(max_length=128)]], Field(max_length=100)] | None,
        BeforeValidator(_listed),
    ] = Field(
        None,
        description="any of these ids: ours (doc_...), or the unique id its source gave (urn:oid:..., "
        "urn:uuid:...); one without a unique id of its source's is also found by urn:uuid:<its id's hex>",
    )
    patient_id: Annotated[str, Field(max_length=64)] | None = Field(
        None, description="the patient's id (FHIR Patient id): the dossier when no INS is given"
    )
    security_label: Annotated[
        Annotated[
            list[Annotated[str, Field(pattern=SECURITY_LABELS, max_length=420)]],
            Field(min_length=1, max_length=10),
        ]
        | None,
        BeforeValidator(_listed),
    ] = Field(
        None,
        description="labels it carries: its confidentiality (N, R, V) or a visibility code (MASQUE_PS, "
        "INVISIBLE_PATIENT, INVISIBLE_REPRESENTANTS_LEGAUX). Each value is an OR of comma-separated labels; "
        "repeated values AND (FHIR's token semantics); an empty value matches nothing",
        examples=[["R,V"]],
    )
    updated_from: AwareDatetime | None = Field(
        None,
        description="its metadata last changed (or, never changed, it was deposited) at or after this instant",
    )
    updated_before: AwareDatetime | None = Field(
        None,
        description="its metadata last changed (or, never changed, it was deposited) before this instant",
    )
    replaces: Annotated[
        Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=100)] | None,
        BeforeValidator(_listed),
    ] = Field(None, description="new versions of any of these documents")
    # The codes its source gave (FHIR token search): each value an OR of comma-separated `system|code`,
    # `code` (any system) or `system|` (any code of it); repeated values AND; an empty value matches nothing.
    practice_setting: CodeTokens = Field(
        None,
        description="its practice setting (FHIR context.practiceSetting, search `setting`)",
        examples=[["http://snomed.info/sct|394802001"]],
    )
    facility_type: CodeTokens = Field(
        None, description="its facility type (FHIR context.facilityType, search `facility`)"
    )
    event: CodeTokens = Field(
        None,
        description="any of its acts or conditions (FHIR context.event, search `event`)",
    )
    format_code: CodeTokens = Field(
        None, description="its format code (FHIR content.format, search `format`)"
    )
    related: CodeTokens = Field(
        None,
        description="an identifier it relates to, `system|value` (FHIR context.related, search "
        "`related:identifier`)",
    )
    # Its author's registered name (FHIR author.given / author.family): each value an OR of comma-separated
    # names, repeated values AND; a name starts the part, case and accents aside, or with `_exact` is the part as
    # registered. A document kept without its author's name matches none.
    author_given: NameGroups = Field(None, description="its author's given name starts so")
    author_family: NameGroups = Field(None, description="its author's family name starts so")
    author_given_exact: NameGroups = Field(None, description="its author's given name is exactly")
    author_family_exact: NameGroups = Field(None, description="its author's family name is exactly")
    status: Annotated[list[SearchedStatus], BeforeValidator(_listed), Field(max_length=3)] = Field(
        default_factory=lambda: list[SearchedStatus](["current"])
    )
    limit: Annotated[int, Field(ge=0, le=100, description="0: the total only")] = 50
    cursor: Annotated[str, Field(max_length=200)] | None = None


class AccessNote(BaseModel):
    rule: str = Field(description="the consent rule under which this was released")
    emergency: bool = Field(description="true under an emergency (break glass) access")
    expires_at: datetime | None = None


class DocumentList(BaseModel):
    documents: list[DocumentMetadata]
    access: AccessNote | None = None
    total: int = Field(
        description="how many documents match, counting only those the caller may see"
    )
    next_cursor: str | None = Field(
        None, description="pass it as `cursor` for the next page; absent on the last"
    )


# The reimbursement feed

# WHO ATC: anatomical group, then two digits, then one or two letters, then two digits (levels 1 to 5).
ATC_CLASS = r"^[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?$"


class ReimbursedItem(Strict):
    system: Literal["CCAM", "NGAP", "CIP13", "UCD", "LPP", "NABM"] = Field(
        description="CCAM/NGAP acts, CIP13/UCD drugs, LPP devices, NABM lab tests"
    )
    code: Annotated[str, Field(pattern=r"^[A-Z0-9.\-]{1,20}$")]
    quantity: Annotated[int, Field(ge=1, le=1000)] = 1
    atc: Annotated[str, Field(pattern=ATC_CLASS, examples=["C10AA05"])] | None = Field(
        None,
        description="drugs (CIP13, UCD) only: the substance's ATC class, at any level, when the feed has it",
    )

    @model_validator(mode="after")
    def _atc_on_drugs_only(self) -> ReimbursedItem:
        if self.atc is not None and self.system not in ("CIP13", "UCD"):
            raise ValueError("atc: only a drug (CIP13, UCD) has an ATC class")
        return self


class ReimbursementLine(Strict):
    line_id: Annotated[
        str,
        Field(pattern=r"^[A-Za-z0-9_.\-]{1,64}$", description="the feed's own id: idempotency key"),
    ]
    ins: Ins
    care_date: date
    items: Annotated[list[ReimbursedItem], Field(min_length=1, max_length=50)]
    prescriber_rpps: Rpps | None = None
    billed_cents: Annotated[int, Field(ge=0, le=100_000_000)]
    reimbursed_cents: Annotated[int, Field(ge=0, le=100_000_000)]


class ReimbursementBatch(BaseModel):
    """Lines are validated one by one: a bad line is reported, the others are kept."""

    model_config = ConfigDict(extra="forbid")
    lines: Annotated[list[dict[str, Any]], Field(min_length=1, max_length=5000)]


class ReimbursementSearch(Strict):
    limit: Annotated[int, Field(ge=1, le=500)] = 100
    cursor: Annotated[str, Field(max_length=200)] | None = None


class ReimbursementLines(BaseModel):
    lines: list[dict[str, Any]]
    total: int
    next_cursor: str | None = None


class ReimbursementReport(BaseModel):
    accepted: int
    duplicates: int = Field(
        description="lines already received (same line_id): ignored, not an error"
    )
    rejected: list[dict[str, str]] = Field(description="line_id and reason of each line refused")


# The personal space

Text = Annotated[str, Field(min_length=1, max_length=200)]


class Allergy(Strict):
    substance: Text
    reaction: Text | None = None
    severity: Literal["mild", "moderate", "severe"] | None = None


class Treatment(Strict):
    name: Text
    dosage: Text | None = None
    since: date | None = None


class Contact(Strict):
    name: Text
    relation: Text | None = None
    phone: Mobile


class TrustedPerson(Strict):
    name: Text
    phone: Mobile
    email: EmailStr | None = None


class AdvanceDirectives(Strict):
    written: bool
    kept_by: Annotated[str, Field(max_length=500)] | None = Field(
        None, description="where they are (or the class 90 document holding them)"
    )


class PersonalSpace(Strict):
    """What the patient says about themselves; every field optional, lists bounded."""

    blood_group: Literal["A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-"] | None = None
    allergies: Annotated[list[Allergy], Field(max_length=50)] = Field(default_factory=list)
    pathologies: Annotated[list[Text], Field(max_length=50)] = Field(default_factory=list)
    treatments: Annotated[list[Treatment], Field(max_length=50)] = Field(default_factory=list)
    emergency_contacts: Annotated[list[Contact], Field(max_length=5)] = Field(default_factory=list)
    trusted_person: TrustedPerson | None = None
    advance_directives: AdvanceDirectives | None = None
    organ_donation: Literal["not_stated", "consents", "refuses"] = Field(
        "not_stated",
        description="wishes as the patient states them (refusal is also registered nationally)",
    )


class PersonalSpaceUpdate(Strict):
    content: PersonalSpace
    version: Annotated[
        int,
        Field(
            ge=0,
            description="the version being replaced (0 for the first); a stale "
            "version answers 409 so that no edit is lost",
        ),
    ]


class PersonalSpaceView(BaseModel):
    content: PersonalSpace
    version: int
    updated_at: datetime | None = None
    updated_by: dict[str, Any] | None = None


# The care summary


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SummaryMedicine(_Answer):
    code_system: Literal["ATC", "CIP13", "UCD"] = Field(
        description="ATC when the feed gave the substance's class"
    )
    code: str = Field(
        description="the ATC class, or the drug code when the feed gave no class",
        examples=["C10AA05"],
    )
    drug_codes: list[str] = Field(description="the CIP13/UCD codes dispensed under it")
    first_dispensed: date
    last_dispensed: date
    dispensings: int
    units: int = Field(description="boxes or units, summed over the dispensings")


class SummaryActDate(_Answer):
    care_date: date
    possibly_redundant: bool = Field(
        description="within its kind's window (redundancy_windows) of the same exam"
    )
    days_since_previous: int | None = None


class SummaryAct(_Answer):
    kind: Literal["lab_test", "technical_act", "clinical_act", "device"]
    system: Literal["CCAM", "NGAP", "CIP13", "UCD", "LPP", "NABM"]
    code: str
    window_days: int | None = Field(
        description="a repeat this many days or fewer after the previous one is flagged; "
        "none: never flagged"
    )
    dates: list[SummaryActDate] = Field(description="oldest first")
    possibly_redundant: bool


class SummaryAllergy(_Answer):
    substance: str
    reaction: str | None = None
    severity: Literal["mild", "moderate", "severe"] | None = None


class SummaryDocument(_Answer):
    document_id: str
    category: str
    type_code: str
    title: str
    care_date: date
    created_at: datetime
    author_id: str
    format: str


class SummaryLatestDocument(_Answer):
    category: str = Field(description="TRE_A03 class")
    count: int = Field(description="this category's current documents the caller may see")
    document: SummaryDocument = Field(description="the latest by date of care, then by deposit")


class SummaryWithheld(_Answer):
    part: Literal["reimbursements", "allergies"]
    rule: str = Field(
        description="the access rule that withheld it", examples=["R-MATRIX-CATEGORY"]
    )


class SummaryWindow(_Answer):
    kind: Literal["lab_test", "technical_act", "clinical_act", "device"]
    days: int | None
    why: str


class CareSummary(_Answer):
    """The care summary: medicines and acts of the last 24 months (class 60), the latest document of each category
    and the patient's allergies (class 90), each part only if the caller's matrix row reads it."""

    since: date = Field(description="the first day of the 24 months covered")
    until: date
    medicines: list[SummaryMedicine] | None = Field(
        description="most recently dispensed first; null: withheld"
    )
    acts: list[SummaryAct] | None = Field(
        description="exams and acts, most recent first; null: withheld"
    )
    allergies: list[SummaryAllergy] | None = Field(
        description="from the personal space; null: withheld"
    )
    latest_documents: list[SummaryLatestDocument]
    withheld: list[SummaryWithheld] = Field(
        description="the parts not given to this caller, and why"
    )
    redundancy_windows: list[SummaryWindow]
    access: AccessNote | None = None


# A document's mask, and a document with its content


class VisibilityChange(Strict):
    masked: bool = Field(
        description="masked from professionals (MASQUE_PS): all but its author see nothing"
    )


class DocumentWithContent(BaseModel):
    document: DocumentMetadata
    access: AccessNote | None = None
    content: str = Field(description="the document's bytes, base64")


# What the methods answer

# An instant as the dossier has always answered it: datetime.isoformat(), e.g. 2026-12-03T14:21:36+00:00.
Instant = Annotated[datetime, PlainSerializer(datetime.isoformat, return_type=str)]


def _none(value: object) -> bool:
    return value is None


def absent_when_none(description: str | None = None) -> Any:
    """A field left out of the JSON while it is None (these answers never said null for it)."""
    return Field(None, exclude_if=_none, description=description)


class Access(AccessNote):
    """Said with every release of content: under which rule, whether it is an emergency access, until when."""

    expires_at: Instant | None = None


class Opened(DossierOpened):
    opened_at: Instant


class Lifecycle(DossierStatus):
    """Where the dossier stands: when it opened and the moments of its latest transition (those it had)."""

    opened_at: Instant
    closed_at: Instant | None = absent_when_none("when it was last closed")
    deletion_requested_at: Instant | None = absent_when_none("when deletion was asked for")
    reopened_at: Instant | None = absent_when_none()
    purge_at: Instant | None = absent_when_none(
        "when what is left is purged, unless reopened first"
    )


class Transitioned(BaseModel):
    """A transition done (close, reopen, deletion request): the status it led to, and when the purge is due."""

    dossier_id: str
    status: str
    purge_at: Instant | None = absent_when_none()


class PurgeRecordView(BaseModel):
    """Whether the dossier service purged a dossier, and whose it was (for audit)."""

    purged: bool
    patient_id: str | None
    purged_at: Instant | None = absent_when_none()


class PersonalSpaceAnswer(BaseModel):
    """A version of the personal space (version 0, empty, before the first)."""

    content: dict[str, Any] = Field(description="schemas.PersonalSpace's JSON, as it was sealed")
    version: int
    updated_at: Instant | None = absent_when_none()
    updated_by: ActorRef | None = absent_when_none()


class DocumentAdded(DocumentMetadata):
    """A deposited document; `replayed` (true) when it is the document of an earlier request with the same
    Idempotency-Key and body."""

    replayed: bool | None = absent_when_none()

    @classmethod
    def of(cls, metadata: DocumentMetadata, replayed: bool | None = None) -> DocumentAdded:
        return cls(**dict(metadata), replayed=replayed)


class DocumentPage(BaseModel):
    """A page of the documents an actor may see."""

    documents: list[DocumentMetadata]
    total: int
    next_cursor: str | None
    access: Access
    ins: str = Field(
        description="the patient's, for FHIR's subject when the search named them by id"
    )


class DocumentRead(BaseModel):
    document: DocumentMetadata
    content: str = Field(description="the document's bytes, base64")
    access: Access


class DocumentFound(BaseModel):
    """A document found by its id alone, with the patient's INS (and its content, if asked for)."""

    document: DocumentMetadata
    content: str | None = absent_when_none("the document's bytes, base64, when asked for")
    access: Access
    ins: str


class CareSummaryAnswer(CareSummary):
    access: Access


# Submission sets (ITI-65's SubmissionSet List, found again by ITI-66)

SUBMISSION_SET_ID = r"^sub_[0-9a-f]{32}$"
Token = Annotated[str, Field(max_length=330, pattern=r"^[^|,\s]*\|?[^|,\s]+$")]


class SubmissionSetSubmission(Strict):
    """What the source says of a submission set (MHD's SubmissionSet List), kept with its documents."""

    unique_id: Annotated[str, Field(pattern=UNIQUE_ID, max_length=128)] | None = Field(
        None,
        description="the source's uniqueId for the set (urn:oid:... or urn:uuid:...), used once per dossier",
    )
    source_id: Annotated[str, Field(pattern=UNIQUE_ID, max_length=128)] | None = Field(
        None, description="the submitting system's id (MHD sourceId: urn:oid:...)"
    )
    title: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    designation_type: Coded | None = Field(
        None, description="its clinical purpose (MHD designationType; JDV_J03 content type)"
    )
    intended_recipients: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=200, pattern=r"^\S+$")]],
        Field(max_length=10),
    ] = Field(default_factory=list, description="references to whom it is meant for (PDSm)")


class SubmissionSetSearch(Strict):
    """Every list field is an OR of its values (absent: no filter; empty: matches nothing); the fields AND. Only
    sets with at least one document the caller may see are ever found."""

    patient_id: Annotated[str, Field(max_length=64)] | None = Field(
        None, description="the patient's id (FHIR Patient id): the dossier when no INS is given"
    )
    submission_set_id: (
        Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=100)] | None
    ) = None
    identifier: (
        Annotated[list[Annotated[str, Field(max_length=128)]], Field(max_length=100)] | None
    ) = Field(
        None,
        description="its source's uniqueId, or the UUID URN of its own id (the List's entryUUID)",
    )
    source_id: (
        Annotated[list[Annotated[str, Field(max_length=128)]], Field(max_length=100)] | None
    ) = None
    designation_type: Annotated[list[Token], Field(max_length=100)] | None = Field(
        None, description="system|code or a bare code (any system)"
    )
    submitted_from: AwareDatetime | None = Field(
        None, description="submitted at or after this instant"
    )
    submitted_before: AwareDatetime | None = Field(
        None, description="submitted strictly before this instant"
    )
    # Its submitter's registered name (FHIR source.given / source.family), as DocumentSearch's author_*.
    source_given: NameGroups = Field(None, description="its submitter's given name starts so")
    source_family: NameGroups = Field(None, description="its submitter's family name starts so")
    source_given_exact: NameGroups = Field(
        None, description="its submitter's given name is exactly"
    )
    source_family_exact: NameGroups = Field(
        None, description="its submitter's family name is exactly"
    )
    limit: Annotated[int, Field(ge=0, le=100, description="0: the total only")] = 50
    cursor: Annotated[str, Field(max_length=200)] | None = None


class SubmissionSetView(BaseModel):
    """A submission set as a caller may see it: its documents are only those they may see, in its order."""

    submission_set_id: str
    dossier_id: str
    patient_id: str
    author: ActorRef
    author_name: PersonName | None = absent_when_none("its submitter's registered name, when kept")
    submitted_at: Instant
    unique_id: str | None = None
    source_id: str | None = None
    title: str | None = None
    designation_type: Coded | None = None
    intended_recipients: list[str] = Field(default_factory=list)
    documents: list[DocumentMetadata]


class SubmissionSetPage(BaseModel):
    """A page of the submission sets an actor may see (newest first), with an honest total."""

    submission_sets: list[SubmissionSetView]
    total: int
    next_cursor: str | None
    access: Access
    ins: str = Field(description="the patient's, for FHIR's subject")


class SubmissionSetFound(BaseModel):
    submission_set: SubmissionSetView
    access: Access
    ins: str


class SubmissionSetAdded(BaseModel):
    """A deposited submission set: its id and its documents, in the order sent."""

    submission_set_id: str
    documents: list[DocumentMetadata]
