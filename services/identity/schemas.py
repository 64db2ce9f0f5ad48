"""identity's contracts: what its RPC methods take and give back. Enrolment (patients, professionals, counter
agents, system clients, representatives), logins (a code, a card's signature, a trusted issuer's ID token) and
the tokens they give, the patient's contact details, the identity check before a dossier is opened. The
identifiers they are made of (Ins, Rpps, Name, ...) are shared, in services/common/schemas.py."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, EmailStr, Field, model_validator

from services.common import identifiers
from services.common.schemas import Ins, Mobile, Name, Profession, Rpps, Strict

BirthPlace = Annotated[
    str,
    Field(
        pattern=r"^(\d{5}|2[AB]\d{3})$",
        description="INSEE code of the birth commune (99 and a country code: born abroad)",
        examples=["75056"],
    ),
]


class PatientRegistration(Strict):
    ins: Ins
    given_name: Name
    family_name: Name
    sex: Literal["F", "M"] = Field(description="as in the INS: first digit 1 = M, 2 = F")
    birth_date: date
    birth_place_code: BirthPlace | None = None
    email: EmailStr
    mobile: Mobile | None = None
    language: Literal["fr", "en"] = "fr"


CardPublicKey = Annotated[
    str,
    AfterValidator(identifiers.check_card_key),
    Field(description="the professional card's public key: EC P-256, PEM (login signs with ES256)"),
]


Finess = Annotated[
    str,
    AfterValidator(identifiers.check_finess),
    Field(description="FINESS of the organisation (9 digits)"),
]


class ProfessionalRegistration(Strict):
    rpps: Rpps
    profession: Profession
    given_name: Name
    family_name: Name
    specialty: (
        Annotated[str, Field(pattern=r"^[A-Z]{1,4}[0-9]{0,4}$", description="e.g. SM26 (TRE_R38)")]
        | None
    ) = None
    organisation: Finess | None = None
    email: EmailStr | None = Field(
        None, description="for reminders about their documents (never shown to patients)"
    )
    roles: list[Literal["samu_regulator", "occupational_physician"]] = Field(
        default_factory=list,
        description="SAMU regulator; occupational physician (médecin du travail)",
    )
    card_public_key: CardPublicKey | None = None


class DevTokenRequest(Strict):
    kind: Literal["patient", "professional"]
    ins: Ins | None = None
    rpps: Rpps | None = None


class AccessToken(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 (a scheme name, not a secret)
    expires_in: int
    refresh_token: str | None = Field(
        None, description="patients only: exchange it for a new access token; single use, rotated"
    )
    refresh_expires_in: int | None = None


class RefreshRequest(Strict):
    refresh_token: Annotated[str, Field(min_length=20, max_length=200)]


class LogoutRequest(Strict):
    """A patient's session also has a refresh token to end; a professional's (card or web login) has none."""

    refresh_token: Annotated[str, Field(min_length=20, max_length=200)] | None = None


class Representation(Strict):
    representative_ins: Annotated[Ins, Field(description="the adult who acts for the minor")]


class LoginCodeRequest(Strict):
    ins: Ins
    channel: Literal["email", "sms"] = Field("email", description="where the code is sent")


class LoginCodeSent(BaseModel):
    status: Literal["sent_if_registered"] = Field(
        "sent_if_registered",
        description="the same answer whether or not the INS is registered: no account enumeration",
    )
    expires_in: int


class LoginCodeCheck(Strict):
    ins: Ins
    code: Annotated[str, Field(pattern=r"^[0-9]{6}$", description="the 6-digit code received")]


class ContactChange(Strict):
    """Exactly one of the two: the new address, which receives the code."""

    email: EmailStr | None = None
    mobile: Mobile | None = None

    @model_validator(mode="after")
    def one_channel(self) -> ContactChange:
        if (self.email is None) == (self.mobile is None):
            raise ValueError("give exactly one of email or mobile")
        return self


class ContactCode(Strict):
    code: Annotated[
        str, Field(pattern=r"^[0-9]{6}$", description="the 6-digit code sent to the new address")
    ]


class ContactCodeSent(BaseModel):
    """A code went to the new address; the address replaces the old one once the code comes back."""

    status: Literal["code_sent"] = "code_sent"
    expires_in: int


class IdentityCheck(Strict):
    """What a professional reads from the patient's Vitale card or ID before opening their dossier."""

    ins: Ins
    family_name: Name
    birth_date: date


class IdentityChecked(BaseModel):
    patient_id: str
    ins: str
    given_name: str
    family_name: str
    sex: str
    birth_date: date


class ExternalLogin(Strict):
    id_token: Annotated[
        str, Field(min_length=20, max_length=8000, description="ID token of a trusted issuer")
    ]
    nonce: Annotated[str, Field(min_length=16, max_length=128)] | None = Field(
        None,
        description="the nonce the login was started with (a web login sends it): the ID token must carry it",
    )


ActorId = Annotated[
    str,
    AfterValidator(identifiers.check_actor_id),
    Field(
        description="rpps:<RPPS>, agent:<agent id> or system:<client id>",
        examples=["rpps:10000000009"],
    ),
]


class AgentRegistration(Strict):
    agent_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{3,32}$", examples=["CPAM75-0042"])]
    organisation: Annotated[
        str, Field(pattern=r"^[0-9]{3}$", description="Assurance Maladie fund (CPAM) code")
    ]
    given_name: Name
    family_name: Name
    card_public_key: CardPublicKey


class SystemRegistration(Strict):
    client_id: Annotated[str, Field(pattern=r"^[a-z0-9-]{3,32}$", examples=["reimbursement-feed"])]
    public_key: CardPublicKey


class CardChallengeRequest(Strict):
    actor_id: ActorId


class CardChallenge(BaseModel):
    nonce: str = Field(description="sign these bytes (UTF-8) with the card's key, ES256")
    expires_in: int


class CardLogin(Strict):
    actor_id: ActorId
    nonce: Annotated[str, Field(min_length=16, max_length=128)]
    signature: Annotated[
        str,
        Field(
            min_length=16, max_length=200, description="ES256 signature (r||s, 64 bytes), base64url"
        ),
    ]
