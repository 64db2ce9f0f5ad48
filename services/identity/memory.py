"""identity's records in memory, for the fast tests: the same answers as IdentityStore (the contract tests in
tests/identity/test_store.py run on both), over dicts of the typed records. What the outbox would publish is
collected in `events`, in the order of the writes that cause them."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

# The one exception of the contract that belongs to the driver: a key already taken where the method
# does not answer False (the Mongo store lets it through).
from pymongo.errors import DuplicateKeyError

from services.common.events import Event
from services.common.memory import MemoryStore
from services.common.sessions import EndedSession
from services.identity.records import (
    Account,
    AccountStatus,
    CardNonce,
    Channel,
    LegalRepresentation,
    LoginCode,
    Patient,
    Professional,
    Purpose,
    RefreshToken,
)
from services.identity.store import IdentityRecords, _collection_of


class MemoryIdentityStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.patients: dict[str, Patient] = {}
        self.accounts: dict[str, Account] = {}
        self.representations: dict[tuple[str, str], LegalRepresentation] = {}
        self.codes: dict[str, LoginCode] = {}
        self.nonces: dict[str, CardNonce] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.ended: dict[str, EndedSession] = {}
        self.buckets: dict[str, int] = {}
        self.traced: set[str] = set()  # ids of logins, refusals and account changes kept

    def _trace(self, event: Event) -> None:
        """A write keyed by its event's id (logins, refusals, account changes)."""
        if event.event_id in self.traced:
            raise DuplicateKeyError(f"{event.event_id} is already recorded")
        self.traced.add(event.event_id)
        self.events.append(event)

    def add_patient(self, patient: Patient, event: Event) -> bool:
        if patient.id in self.patients or self.patient_by_ins(patient.ins) is not None:
            return False
        self.patients[patient.id] = patient
        self.events.append(event)
        return True

    def add_account(self, account: Account, event: Event) -> bool:
        _collection_of(account.id)  # an unknown kind of id is refused as the Mongo store refuses it
        if account.id in self.accounts:
            return False
        self.accounts[account.id] = account
        self.events.append(event)
        return True

    def account(self, actor_id: str) -> Account | None:
        _collection_of(actor_id)
        return self.accounts.get(actor_id)

    def patient_by_ins(self, ins: str) -> Patient | None:
        return next((p for p in self.patients.values() if p.ins == ins), None)

    def patient(self, patient_id: str) -> Patient | None:
        return self.patients.get(patient_id)

    def professional(self, rpps: str) -> Professional | None:
        found = self.accounts.get(f"rpps:{rpps}")
        return found if isinstance(found, Professional) else None

    def record_account_change(self, event: Event) -> None:
        self._trace(event)

    def set_status(self, actor_id: str, status: AccountStatus) -> bool:
        found = self.account(actor_id)
        if found is None:
            return False
        self.accounts[actor_id] = replace(found, status=status)
        return True

    def set_contact(
        self,
        patient_id: str,
        channel: Channel,
        address: str,
        at: datetime,
        event: Event | None = None,
    ) -> None:
        found = self.patients.get(patient_id)
        if found is None:
            return
        if channel is Channel.EMAIL:
            changed = replace(found, email=address, email_verified_at=at)
        else:
            changed = replace(found, mobile=address, mobile_verified_at=at)
        self.patients[patient_id] = changed
        if event is not None:
            self.events.append(event)

    def add_representation(self, representation: LegalRepresentation, event: Event) -> bool:
        key = (representation.representative_id, representation.minor_id)
        if key in self.representations:
            return False
        self.representations[key] = representation
        self.events.append(event)
        return True

    def representation(self, representative_id: str, minor_id: str) -> LegalRepresentation | None:
        return self.representations.get((representative_id, minor_id))

    def count(self, bucket: str) -> int:
        self.buckets[bucket] = self.buckets.get(bucket, 0) + 1
        return self.buckets[bucket]

    def latest_code(self, subject_id: str, purpose: Purpose) -> LoginCode | None:
        codes = [
            c for c in self.codes.values() if (c.subject_id, c.purpose) == (subject_id, purpose)
        ]
        return max(codes, key=lambda c: c.created_at, default=None)

    def add_code(self, code: LoginCode) -> None:
        self._insert(self.codes, code.id, code)

    def count_attempt(self, code_id: str, max_attempts: int) -> LoginCode | None:
        found = self.codes.get(code_id)
        if found is None or found.consumed or found.attempts >= max_attempts:
            return None
        counted = self.codes[code_id] = replace(found, attempts=found.attempts + 1)
        return counted

    def consume_code(self, code_id: str) -> bool:
        return _consume(self.codes, code_id)

    def consume_nonce(self, nonce: str) -> bool:
        return _consume(self.nonces, nonce)

    def consume_refresh(self, digest: str) -> bool:
        return _consume(self.refresh_tokens, digest)

    def add_nonce(self, nonce: CardNonce) -> None:
        self._insert(self.nonces, nonce.nonce, nonce)

    def nonce(self, nonce: str) -> CardNonce | None:
        return self.nonces.get(nonce)

    def record_refusal(self, event: Event) -> None:
        self._trace(event)

    def record_login(self, event: Event) -> None:
        self._trace(event)

    def add_refresh(self, token: RefreshToken) -> None:
        self._insert(self.refresh_tokens, token.digest, token)

    def refresh_token(self, digest: str) -> RefreshToken | None:
        return self.refresh_tokens.get(digest)

    def revoke_family(self, family: str) -> None:
        for digest, token in list(self.refresh_tokens.items()):
            if token.family == family:
                self.refresh_tokens[digest] = replace(token, consumed=True)

    def end_session(self, session: EndedSession, event: Event) -> None:
        if session.session_id in self.ended:
            return  # ended already
        self.ended[session.session_id] = session
        self.events.append(event)

    def ended_sessions(self, now: datetime) -> list[EndedSession]:
        return [session for session in self.ended.values() if session.until > now]

    @staticmethod
    def _insert(records: dict[str, Any], key: str, record: object) -> None:
        if key in records:
            raise DuplicateKeyError(f"{key} is already stored")
        records[key] = record


def _consume(records: dict[str, Any], key: str) -> bool:
    """Single use: True for the one caller that consumes it."""
    found = records.get(key)
    if found is None or found.consumed:
        return False
    records[key] = replace(found, consumed=True)
    return True


_check: type[IdentityRecords] = MemoryIdentityStore
