"""What identity keeps, as values: patients, the accounts that log in with a card or key, legal
representations, login codes, card challenges and refresh tokens. The store turns them into documents and
back (services/identity/store.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from services.common.actors import Role


class AccountStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"  # may not log in; consent refuses its tokens still running


class Channel(StrEnum):
    """Where a code or a message reaches a patient."""

    EMAIL = "email"
    SMS = "sms"


class Purpose(StrEnum):
    """What a one-time code proves."""

    LOGIN = "login"
    CONTACT = "contact"  # a new email or mobile works


@dataclass(frozen=True)
class Patient:
    id: str
    ins: str
    given_name: str
    family_name: str
    sex: str  # "F" or "M", as in the INS
    birth_date: date
    email: str
    registered_at: datetime
    birth_place_code: str | None = None
    mobile: str | None = None
    language: str = "fr"
    email_verified_at: datetime | None = None  # a code sent to it came back
    mobile_verified_at: datetime | None = None

    def address(self, channel: Channel) -> str | None:
        return self.email if channel is Channel.EMAIL else self.mobile

    def verified(self, channel: Channel) -> bool:
        return (
            self.email_verified_at if channel is Channel.EMAIL else self.mobile_verified_at
        ) is not None


@dataclass(frozen=True)
class Decoy:
    """Who a login code is made for when nobody can receive it (an INS nobody registered, a patient without
    that channel): a subject of its own that no patient is, so that every request does the same work."""

    id: str


@dataclass(frozen=True)
class Professional:
    id: str  # rpps:<RPPS>
    rpps: str
    profession: str  # TRE_G15 code
    given_name: str
    family_name: str
    status: AccountStatus
    registered_at: datetime
    specialty: str | None = None
    organisation: str | None = None  # FINESS
    email: str | None = None  # for reminders about their documents
    roles: tuple[Role, ...] = ()
    card_public_key: str | None = None


@dataclass(frozen=True)
class CounterAgent:
    """Assurance Maladie counter staff."""

    id: str  # agent:<agent id>
    agent_id: str
    organisation: str  # the CPAM's code
    given_name: str
    family_name: str
    card_public_key: str
    status: AccountStatus
    registered_at: datetime


@dataclass(frozen=True)
class SystemClient:
    """A system that logs in with a key, e.g. the reimbursement feed."""

    id: str  # system:<client id>
    client_id: str
    card_public_key: str
    status: AccountStatus
    registered_at: datetime


Account = Professional | CounterAgent | SystemClient  # whoever logs in with a card or key


@dataclass(frozen=True)
class LegalRepresentation:
    representative_id: str
    minor_id: str
    added_at: datetime


@dataclass(frozen=True)
class LoginCode:
    """A one-time code sent to a patient (or made for a decoy), kept only as its digest."""

    id: str
    subject_id: str  # the patient's id, or a decoy's
    purpose: Purpose
    channel: Channel
    address: str | None  # where it was sent; None for a decoy's
    created_at: datetime
    expires_at: datetime
    attempts: int
    consumed: bool  # used, or locked after too many wrong codes
    digest: str


@dataclass(frozen=True)
class CardNonce:
    """A nonce a card or key signs to log in, single use."""

    nonce: str
    actor_id: str
    expires_at: datetime
    consumed: bool


@dataclass(frozen=True)
class RefreshToken:
    """A patient's refresh token, kept as its digest; a session's tokens share a family (its session id)."""

    digest: str
    family: str
    patient_id: str
    ins: str
    created_at: datetime
    expires_at: datetime
    consumed: bool
