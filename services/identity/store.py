"""identity's collections: patients and professionals."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.database import Database

from services.common.events import Event
from services.common.sessions import EndedSession
from services.common.store import Store, equal

log = logging.getLogger(__name__)


def _collection_of(actor_id: str) -> str:
    """Where an actor who logs in with a card or key is kept, by the prefix of its id."""
    return {"rpps": "professionals", "agent": "agents", "system": "systems"}[actor_id.split(":")[0]]


class IdentityStore(Store):
    service = "identity"
    outbox_collections = (
        "patients", "professionals", "agents", "systems", "logins", "representations", "account_changes",
        "refusals", "ended_sessions",
    )

    @classmethod
    def prepare(cls, database: Database[dict[str, Any]]) -> None:
        super().prepare(database)
        database.patients.create_index([("ins", 1)], unique=True)
        database.login_codes.create_index([("patient_id", 1), ("purpose", 1), ("created_at", 1)])
        database.refresh_tokens.create_index([("family", 1)])
        database.ended_sessions.create_index([("until", 1)])

    def add_patient(self, patient: dict[str, Any], event: Event) -> bool:
        """False when the INS is already registered."""
        return self.insert_new("patients", patient, [event])

    def add_actor(self, collection: str, record: dict[str, Any], event: Event) -> bool:
        """Register a professional, agent or system; False when the id is already taken."""
        return self.insert_new(collection, record, [event])

    def actor_record(self, actor_id: str) -> dict[str, Any] | None:
        """The record of whoever logs in with a card or key, by actor id."""
        return self.db[_collection_of(actor_id)].find_one({"_id": actor_id}, {"_outbox": 0})

    def patient_by_ins(self, ins: str) -> dict[str, Any] | None:
        return self.db.patients.find_one({"ins": ins}, {"_outbox": 0})

    def patient(self, patient_id: str) -> dict[str, Any] | None:
        return self.db.patients.find_one({"_id": patient_id}, {"_outbox": 0})

    def professional(self, rpps: str) -> dict[str, Any] | None:
        return self.db.professionals.find_one({"_id": f"rpps:{rpps}"}, {"_outbox": 0})


    def record_account_change(self, event: Event) -> None:
        self.insert_with_events("account_changes", {"_id": event.event_id, **event.data}, [event])

    def set_status(self, actor_id: str, status: str) -> bool:
        result = self.db[_collection_of(actor_id)].update_one({"_id": actor_id}, {"$set": {"status": status}})
        return result.matched_count == 1

    def set_contact(self, patient_id: str, field: str, address: str, at: datetime, event: Event | None = None) -> None:
        """Set an email or mobile, verified now (a code sent to it came back); a change, with its event in
        the same write: whoever keeps contacts (notify) hears of every change that was made."""
        # Nested: nx-27017 would store a top-level datetime written by $set as a string.
        changes = {field: address, f"{field}_verified": {"at": at}}
        if event is None:
            self.db.patients.update_one({"_id": patient_id}, {"$set": changes})
        else:
            self.update_with_events("patients", {"_id": patient_id}, changes, [event])

    # Legal representatives

    def add_representation(self, record: dict[str, Any], event: Event) -> bool:
        return self.insert_new("representations", record, [event])

    def representation(self, representative_id: str, minor_id: str) -> dict[str, Any] | None:
        return self.db.representations.find_one({"_id": f"{representative_id}|{minor_id}"}, {"_outbox": 0})

    # Login

    def count(self, bucket: str) -> int:
        """Add one to a rate-limit bucket and return its count."""
        counter = self.db.rate_limits.find_one_and_update(
            {"_id": bucket}, {"$inc": {"count": 1}}, upsert=True, return_document=ReturnDocument.AFTER
        )
        return int((counter or {}).get("count", 1))

    def latest_code(self, patient_id: str, purpose: str) -> dict[str, Any] | None:
        query = {"patient_id": equal(patient_id), "purpose": equal(purpose)}
        cursor = self.db.login_codes.find(query).sort([("created_at", -1)]).limit(1)
        return next(iter(cursor), None)



    def add_code(self, challenge: dict[str, Any]) -> None:
        self.db.login_codes.insert_one(challenge)

    def count_attempt(self, challenge_id: str, max_attempts: int) -> dict[str, Any] | None:
        """Count one attempt on a live challenge; None when it is used up or locked."""
        return self.db.login_codes.find_one_and_update(
            {"_id": challenge_id, "consumed": False, "attempts": {"$lt": max_attempts}},
            {"$inc": {"attempts": 1}},
            return_document=ReturnDocument.AFTER,
        )

    def consume(self, collection: str, challenge_id: str) -> bool:
        """Single use: True for the one caller that consumes it."""
        result = self.db[collection].update_one({"_id": challenge_id, "consumed": False}, {"$set": {"consumed": True}})
        return result.modified_count == 1

    def add_nonce(self, nonce: dict[str, Any]) -> None:
        self.db.card_nonces.insert_one(nonce)

    def nonce(self, nonce: str) -> dict[str, Any] | None:
        return self.db.card_nonces.find_one({"_id": nonce})

    def record_refusal(self, event: Event) -> None:
        """A refused request, kept with its access_denied event (the audit trail gets it through the outbox)."""
        self.insert_with_events("refusals", {"_id": event.event_id, "at": event.occurred_at, "rule": event.rule},
                                [event])

    def record_login(self, event: Event) -> None:
        login = {"_id": event.event_id, "at": event.occurred_at, "actor_id": event.actor.id if event.actor else None}
        self.insert_with_events("logins", login, [event])

    # Patient sessions: refresh tokens, stored as digests, grouped in families for revocation.

    def add_refresh(self, record: dict[str, Any]) -> None:
        self.db.refresh_tokens.insert_one(record)

    def refresh_record(self, digest: str) -> dict[str, Any] | None:
        return self.db.refresh_tokens.find_one({"_id": digest})

    def revoke_family(self, family: str) -> None:
        self.db.refresh_tokens.update_many({"family": family}, {"$set": {"consumed": True}})

    def end_session(self, session: EndedSession, event: Event) -> None:
        """Keep an ended session until its last access token expires, and publish its end before
        answering: the caller's next request must find every verifier told."""
        if not self.insert_new("ended_sessions", {"_id": session.session_id, "until": session.until}, [event]):
            return  # ended already
        try:
            self.relay.relay_once(["ended_sessions"])
        except Exception:  # the relay publishes it at its next pass; the session is ended all the same
            log.warning("publishing a session's end failed; the outbox relay will retry", exc_info=True)

    def ended_sessions(self, now: datetime) -> list[EndedSession]:
        live = self.db.ended_sessions.find({"until": {"$gt": now}}, {"until": 1})
        return [EndedSession(record["_id"], record["until"]) for record in live]
