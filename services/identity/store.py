"""identity's collections: patients, the accounts that log in with a card or key (professionals, agents,
systems), legal representations, login codes, card nonces, refresh tokens and ended sessions.

The only module that knows their documents: it turns them into records (services/identity/records.py)
and back. Times are stored as datetimes written by inserts; the one written by $set (a contact's
verification) is nested ({"at": datetime}): nx-27017 turns a top-level datetime written by $set into a
string.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any, Protocol

from pymongo import ReturnDocument
from pymongo.database import Database

from services.common.actors import Role
from services.common.events import Event
from services.common.sessions import EndedSession
from services.common.store import Reachable, Store, equal
from services.identity.records import (
    Account,
    AccountStatus,
    CardNonce,
    Channel,
    CounterAgent,
    LegalRepresentation,
    LoginCode,
    Patient,
    Professional,
    Purpose,
    RefreshToken,
    SystemClient,
)

log = logging.getLogger(__name__)

HIDDEN = {"_outbox": 0}
CONTACT_FIELDS = {
    Channel.EMAIL: "email",
    Channel.SMS: "mobile",
}  # the patient field a channel reaches
ACCOUNT_COLLECTIONS = {"rpps": "professionals", "agent": "agents", "system": "systems"}


def _collection_of(actor_id: str) -> str:
    """Where an actor who logs in with a card or key is kept, by the prefix of its id."""
    return ACCOUNT_COLLECTIONS[actor_id.split(":")[0]]


def status_change(actor_id: str, status: AccountStatus, at: datetime) -> dict[str, str]:
    """An account_status_changed event's data, which is also the account_changes document: consent keeps the
    newest status by `changed_ms` (epoch milliseconds, as a string)."""
    return {
        "actor_id": actor_id,
        "status": status.value,
        "changed_ms": str(int(at.timestamp() * 1000)),
    }


class IdentityRecords(Reachable, Protocol):
    """What the service and its use cases need of a store: IdentityStore on Mongo, MemoryIdentityStore
    (services/identity/memory.py) in the fast tests. The contract tests (tests/identity/test_store.py) hold
    both to the same answers. Writes named with an event publish it (through the outbox) only when they
    write; a key already taken raises DuplicateKeyError where the method is not documented to answer False."""

    def received_event(self, payload: Any) -> Event | None: ...

    def add_patient(self, patient: Patient, event: Event) -> bool: ...

    def add_account(self, account: Account, event: Event) -> bool: ...

    def account(self, actor_id: str) -> Account | None: ...

    def patient_by_ins(self, ins: str) -> Patient | None: ...

    def patient(self, patient_id: str) -> Patient | None: ...

    def professional(self, rpps: str) -> Professional | None: ...

    def record_account_change(self, event: Event) -> None: ...

    def set_status(self, actor_id: str, status: AccountStatus) -> bool: ...

    def set_contact(
        self,
        patient_id: str,
        channel: Channel,
        address: str,
        at: datetime,
        event: Event | None = None,
    ) -> None: ...

    def add_representation(self, representation: LegalRepresentation, event: Event) -> bool: ...

    def representation(
        self, representative_id: str, minor_id: str
    ) -> LegalRepresentation | None: ...

    def count(self, bucket: str) -> int: ...

    def latest_code(self, subject_id: str, purpose: Purpose) -> LoginCode | None: ...

    def add_code(self, code: LoginCode) -> None: ...

    def count_attempt(self, code_id: str, max_attempts: int) -> LoginCode | None: ...

    def consume_code(self, code_id: str) -> bool: ...

    def consume_nonce(self, nonce: str) -> bool: ...

    def consume_refresh(self, digest: str) -> bool: ...

    def add_nonce(self, nonce: CardNonce) -> None: ...

    def nonce(self, nonce: str) -> CardNonce | None: ...

    def record_refusal(self, event: Event) -> None: ...

    def record_login(self, event: Event) -> None: ...

    def add_refresh(self, token: RefreshToken) -> None: ...

    def refresh_token(self, digest: str) -> RefreshToken | None: ...

    def revoke_family(self, family: str) -> None: ...

    def end_session(self, session: EndedSession, event: Event) -> None: ...

    def ended_sessions(self, now: datetime) -> list[EndedSession]: ...


class IdentityStore(Store):
    service = "identity"
    outbox_collections = (
        "patients",
        "professionals",
        "agents",
        "systems",
        "logins",
        "representations",
        "account_changes",
        "refusals",
        "ended_sessions",
    )

    @classmethod
    def prepare(cls, database: Database[dict[str, Any]]) -> None:
        super().prepare(database)
        database.patients.create_index([("ins", 1)], unique=True)
        database.login_codes.create_index([("patient_id", 1), ("purpose", 1), ("created_at", 1)])
        database.refresh_tokens.create_index([("family", 1)])
        database.ended_sessions.create_index([("until", 1)])

    # Patients and accounts

    def add_patient(self, patient: Patient, event: Event) -> bool:
        """False when the INS is already registered."""
        return self.insert_new("patients", _patient_document(patient), [event])

    def add_account(self, account: Account, event: Event) -> bool:
        """Register a professional, agent or system; False when the id is already taken."""
        return self.insert_new(_collection_of(account.id), _account_document(account), [event])

    def account(self, actor_id: str) -> Account | None:
        """Whoever logs in with a card or key, by actor id."""
        document = self.db[_collection_of(actor_id)].find_one({"_id": actor_id}, HIDDEN)
        return _account(document) if document is not None else None

    def patient_by_ins(self, ins: str) -> Patient | None:
        document = self.db.patients.find_one({"ins": ins}, HIDDEN)
        return _patient(document) if document is not None else None

    def patient(self, patient_id: str) -> Patient | None:
        document = self.db.patients.find_one({"_id": patient_id}, HIDDEN)
        return _patient(document) if document is not None else None

    def professional(self, rpps: str) -> Professional | None:
        document = self.db.professionals.find_one({"_id": f"rpps:{rpps}"}, HIDDEN)
        return _professional(document) if document is not None else None

    def record_account_change(self, event: Event) -> None:
        self.insert_with_events("account_changes", {"_id": event.event_id, **event.data}, [event])

    def set_status(self, actor_id: str, status: AccountStatus) -> bool:
        result = self.db[_collection_of(actor_id)].update_one(
            {"_id": actor_id}, {"$set": {"status": status.value}}
        )
        return result.matched_count == 1

    def set_contact(
        self,
        patient_id: str,
        channel: Channel,
        address: str,
        at: datetime,
        event: Event | None = None,
    ) -> None:
        """Set an email or mobile, verified now (a code sent to it came back); a change, with its event in
        the same write: whoever keeps contacts (notify) hears of every change that was made."""
        field = CONTACT_FIELDS[channel]
        changes = {field: address, f"{field}_verified": {"at": at}}
        if event is None:
            self.db.patients.update_one({"_id": patient_id}, {"$set": changes})
        else:
            self.update_with_events("patients", {"_id": patient_id}, changes, [event])

    # Legal representatives

    def add_representation(self, representation: LegalRepresentation, event: Event) -> bool:
        document = {
            "_id": f"{representation.representative_id}|{representation.minor_id}",
            "representative_id": representation.representative_id,
            "minor_id": representation.minor_id,
            "added_at": representation.added_at,
        }
        return self.insert_new("representations", document, [event])

    def representation(self, representative_id: str, minor_id: str) -> LegalRepresentation | None:
        document = self.db.representations.find_one(
            {"_id": f"{representative_id}|{minor_id}"}, HIDDEN
        )
        if document is None:
            return None
        return LegalRepresentation(
            document["representative_id"], document["minor_id"], document["added_at"]
        )

    # Login

    def count(self, bucket: str) -> int:
        """Add one to a rate-limit bucket and return its count."""
        counter = self.db.rate_limits.find_one_and_update(
            {"_id": bucket},
            {"$inc": {"count": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return int((counter or {}).get("count", 1))

    def latest_code(self, subject_id: str, purpose: Purpose) -> LoginCode | None:
        query = {"patient_id": equal(subject_id), "purpose": equal(purpose.value)}
        cursor = self.db.login_codes.find(query).sort([("created_at", -1)]).limit(1)
        document = next(iter(cursor), None)
        return _login_code(document) if document is not None else None

    def add_code(self, code: LoginCode) -> None:
        self.db.login_codes.insert_one(
            {
                "_id": code.id,
                "patient_id": code.subject_id,
                "purpose": code.purpose.value,
                "channel": code.channel.value,
                "address": code.address,
                "created_at": code.created_at,
                "expires_at": code.expires_at,
                "attempts": code.attempts,
                "consumed": code.consumed,
                "digest": code.digest,
            }
        )

    def count_attempt(self, code_id: str, max_attempts: int) -> LoginCode | None:
        """Count one attempt on a live code, atomically; None when it is used up or locked."""
        document = self.db.login_codes.find_one_and_update(
            {"_id": code_id, "consumed": False, "attempts": {"$lt": max_attempts}},
            {"$inc": {"attempts": 1}},
            return_document=ReturnDocument.AFTER,
        )
        return _login_code(document) if document is not None else None

    def consume_code(self, code_id: str) -> bool:
        return self._consume("login_codes", code_id)

    def consume_nonce(self, nonce: str) -> bool:
        return self._consume("card_nonces", nonce)

    def consume_refresh(self, digest: str) -> bool:
        return self._consume("refresh_tokens", digest)

    def _consume(self, collection: str, key: str) -> bool:
        """Single use: True for the one caller that consumes it."""
        result = self.db[collection].update_one(
            {"_id": key, "consumed": False}, {"$set": {"consumed": True}}
        )
        return result.modified_count == 1

    def add_nonce(self, nonce: CardNonce) -> None:
        self.db.card_nonces.insert_one(
            {
                "_id": nonce.nonce,
                "actor_id": nonce.actor_id,
                "expires_at": nonce.expires_at,
                "consumed": nonce.consumed,
            }
        )

    def nonce(self, nonce: str) -> CardNonce | None:
        document = self.db.card_nonces.find_one({"_id": nonce})
        if document is None:
            return None
        return CardNonce(
            document["_id"],
            document["actor_id"],
            document["expires_at"],
            bool(document["consumed"]),
        )

    def record_refusal(self, event: Event) -> None:
        """A refused request, kept with its access_denied event (the audit trail gets it through the outbox)."""
        self.insert_with_events(
            "refusals",
            {"_id": event.event_id, "at": event.occurred_at, "rule": event.rule},
            [event],
        )

    def record_login(self, event: Event) -> None:
        login = {
            "_id": event.event_id,
            "at": event.occurred_at,
            "actor_id": event.actor.id if event.actor else None,
        }
        self.insert_with_events("logins", login, [event])

    # Patient sessions: refresh tokens, stored as digests, grouped in families for revocation.

    def add_refresh(self, token: RefreshToken) -> None:
        self.db.refresh_tokens.insert_one(
            {
                "_id": token.digest,
                "family": token.family,
                "patient_id": token.patient_id,
                "ins": token.ins,
                "created_at": token.created_at,
                "expires_at": token.expires_at,
                "consumed": token.consumed,
            }
        )

    def refresh_token(self, digest: str) -> RefreshToken | None:
        document = self.db.refresh_tokens.find_one({"_id": digest})
        if document is None:
            return None
        return RefreshToken(
            digest=document["_id"],
            family=document["family"],
            patient_id=document["patient_id"],
            ins=document["ins"],
            created_at=document["created_at"],
            expires_at=document["expires_at"],
            consumed=bool(document["consumed"]),
        )

    def revoke_family(self, family: str) -> None:
        self.db.refresh_tokens.update_many({"family": family}, {"$set": {"consumed": True}})

    def end_session(self, session: EndedSession, event: Event) -> None:
        """Keep an ended session until its last access token expires, and publish its end before
        answering: the caller's next request must find every verifier told."""
        if not self.insert_new(
            "ended_sessions", {"_id": session.session_id, "until": session.until}, [event]
        ):
            return  # ended already
        try:
            self.relay.relay_once(["ended_sessions"])
        except (
            Exception
        ):  # the relay publishes it at its next pass; the session is ended all the same
            log.warning(
                "publishing a session's end failed; the outbox relay will retry", exc_info=True
            )

    def ended_sessions(self, now: datetime) -> list[EndedSession]:
        live = self.db.ended_sessions.find({"until": {"$gt": now}}, {"until": 1})
        return [EndedSession(record["_id"], record["until"]) for record in live]


# Records and their documents, in one place. A registration's fields are stored as it was parsed (dates as
# ISO strings), absent ones as None.


def _patient_document(patient: Patient) -> dict[str, Any]:
    return {
        "_id": patient.id,
        "ins": patient.ins,
        "given_name": patient.given_name,
        "family_name": patient.family_name,
        "sex": patient.sex,
        "birth_date": patient.birth_date.isoformat(),
        "birth_place_code": patient.birth_place_code,
        "email": patient.email,
        "mobile": patient.mobile,
        "language": patient.language,
        "registered_at": patient.registered_at,
    }


def _verified_at(document: dict[str, Any], field: str) -> datetime | None:
    verified = document.get(f"{field}_verified")
    return verified["at"] if verified else None


def _patient(document: dict[str, Any]) -> Patient:
    return Patient(
        id=document["_id"],
        ins=document["ins"],
        given_name=document["given_name"],
        family_name=document["family_name"],
        sex=document["sex"],
        birth_date=date.fromisoformat(document["birth_date"]),
        email=document["email"],
        registered_at=document["registered_at"],
        birth_place_code=document.get("birth_place_code"),
        mobile=document.get("mobile"),
        language=document.get("language", "fr"),
        email_verified_at=_verified_at(document, "email"),
        mobile_verified_at=_verified_at(document, "mobile"),
    )


def _status(document: dict[str, Any]) -> AccountStatus:
    # Anything but "active" may not log in, as before there were statuses to read.
    return (
        AccountStatus.ACTIVE
        if document.get("status") == AccountStatus.ACTIVE.value
        else AccountStatus.SUSPENDED
    )


def _account_document(account: Account) -> dict[str, Any]:
    common = {
        "_id": account.id,
        "status": account.status.value,
        "registered_at": account.registered_at,
    }
    if isinstance(account, Professional):
        return {
            **common,
            "rpps": account.rpps,
            "profession": account.profession,
            "given_name": account.given_name,
            "family_name": account.family_name,
            "specialty": account.specialty,
            "organisation": account.organisation,
            "email": account.email,
            "roles": [role.value for role in account.roles],
            "card_public_key": account.card_public_key,
        }
    if isinstance(account, CounterAgent):
        return {
            **common,
            "agent_id": account.agent_id,
            "organisation": account.organisation,
            "given_name": account.given_name,
            "family_name": account.family_name,
            "card_public_key": account.card_public_key,
        }
    return {**common, "client_id": account.client_id, "card_public_key": account.card_public_key}


def _account(document: dict[str, Any]) -> Account:
    prefix = document["_id"].split(":")[0]
    if prefix == "agent":
        return CounterAgent(
            id=document["_id"],
            agent_id=document["agent_id"],
            organisation=document["organisation"],
            given_name=document["given_name"],
            family_name=document["family_name"],
            card_public_key=document["card_public_key"],
            status=_status(document),
            registered_at=document["registered_at"],
        )
    if prefix == "system":
        return SystemClient(
            id=document["_id"],
            client_id=document["client_id"],
            card_public_key=document["card_public_key"],
            status=_status(document),
            registered_at=document["registered_at"],
        )
    return _professional(document)


def _professional(document: dict[str, Any]) -> Professional:
    return Professional(
        id=document["_id"],
        rpps=document["rpps"],
        profession=document["profession"],
        given_name=document["given_name"],
        family_name=document["family_name"],
        status=_status(document),
        registered_at=document["registered_at"],
        specialty=document.get("specialty"),
        organisation=document.get("organisation"),
        email=document.get("email"),
        roles=tuple(Role(role) for role in document.get("roles", ())),
        card_public_key=document.get("card_public_key"),
    )


def _login_code(document: dict[str, Any]) -> LoginCode:
    return LoginCode(
        id=document["_id"],
        subject_id=document["patient_id"],
        purpose=Purpose(document["purpose"]),
        channel=Channel(
            document.get("channel", Channel.EMAIL.value)
        ),  # codes made before SMS had no channel
        address=document.get("address"),
        created_at=document["created_at"],
        expires_at=document["expires_at"],
        attempts=int(document["attempts"]),
        consumed=bool(document["consumed"]),
        digest=document["digest"],
    )
