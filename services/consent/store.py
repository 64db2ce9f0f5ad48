"""consent's records: every fact a decision reads lives in one collection, `facts`, under a key that names
the fact (`consent|<professional>|<ins>`, `settings|<ins>`, `status|<actor>`, ...), so that the facts of a
decision are one query by `_id` (six reads before, on every request; issue 19). Refused requests are kept
in `refusals`.

Times that are compared are kept as epoch milliseconds (`*_ms`): nx-27017 turns a top-level datetime
written by $set into a string. Times shown to people are nested ({"at": datetime}).
"""

from __future__ import annotations

from contextlib import suppress
from datetime import UTC, datetime
from typing import Any, Protocol

from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from services.common.errors import ServiceUnavailable
from services.common.events import Event
from services.common.store import Reachable, Store
from services.consent.facts import facts_of, settings_changed_meanwhile, suspended
from services.consent.records import (
    AUTHORISATIONS,
    Authorisation,
    EmergencyRecord,
    Kind,
    PatientSettings,
    Period,
    Proposal,
)
from services.consent.rules import Facts

HIDDEN = {"_outbox": 0, "_outbox_pending": 0}
FACTS = "facts"


def fact_id(kind: Kind, *keys: str) -> str:
    # Deterministic, so that recording the same thing twice is one record.
    return "|".join((kind.value, *keys))


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _moment(epoch_ms: int | None) -> datetime | None:
    return None if epoch_ms is None else datetime.fromtimestamp(epoch_ms / 1000, UTC)


class ConsentRecords(Reachable, Protocol):
    """What the service needs of a store: ConsentStore on Mongo, MemoryConsentStore (services/consent/
    memory.py) in the fast tests; the contract tests (tests/consent/test_store.py) hold both to the same
    answers. A write named with an event publishes it (through the outbox) only when it writes."""

    def received_event(self, payload: Any) -> Event | None: ...

    def record_refusal(self, event: Event) -> None: ...

    def facts_for(self, ins: str, patient_id: str, actor_id: str, now: datetime) -> Facts: ...

    def authorise(self, authorisation: Authorisation, event: Event) -> bool: ...

    def withdraw(
        self, kind: Kind, ins: str, professional_id: str, by: str, now: datetime, event: Event
    ) -> bool: ...

    def authorisation(self, kind: Kind, ins: str, professional_id: str) -> Authorisation | None: ...

    def authorisations(self, kind: Kind, ins: str, now: datetime) -> list[Authorisation]: ...

    def patient_settings(self, ins: str) -> PatientSettings: ...

    def save_settings(self, settings: PatientSettings, event: Event) -> None: ...

    def start_emergency(self, emergency: EmergencyRecord, event: Event) -> None: ...

    def apply_status(self, actor_id: str, status: str, changed_at: datetime) -> None: ...

    def suspended(self, actor_id: str) -> bool: ...


class ConsentStore(Store):
    service = "consent"
    outbox_collections = (FACTS, "refusals")

    @classmethod
    def prepare(cls, database: Database[dict[str, Any]]) -> None:
        super().prepare(database)
        database[FACTS].create_index(
            [("ins", 1)]
        )  # a patient's authorisations, for their settings page
        move_earlier_layout(database)

    def record_refusal(self, event: Event) -> None:
        """A refused request, kept with its access_denied event (the audit trail gets it through the outbox)."""
        self.insert_with_events(
            "refusals",
            {
                "_id": event.event_id,
                "at": event.occurred_at,
                "rule": event.rule,
                "patient_id": event.patient_id,
            },
            [event],
        )

    # What one decision needs: one query.

    def facts_for(self, ins: str, patient_id: str, actor_id: str, now: datetime) -> Facts:
        keys = {kind: fact_id(kind, actor_id, ins) for kind in (*AUTHORISATIONS, Kind.EMERGENCY)}
        keys[Kind.SETTINGS], keys[Kind.STATUS] = (
            fact_id(Kind.SETTINGS, ins),
            fact_id(Kind.STATUS, actor_id),
        )
        found = {
            record["_id"]: record
            for record in self.db[FACTS].find({"_id": {"$in": list(keys.values())}})
        }
        emergency = found.get(keys[Kind.EMERGENCY])
        status = found.get(keys[Kind.STATUS])
        return facts_of(
            ins,
            patient_id,
            actor_id,
            now,
            [_authorisation(found[keys[kind]]) for kind in AUTHORISATIONS if keys[kind] in found],
            _settings(ins, found.get(keys[Kind.SETTINGS])),
            _emergency(emergency) if emergency is not None else None,
            status["status"] if status is not None else None,
        )

    # Authorisations: consents, care team, occupational consents share one shape.

    def authorise(self, authorisation: Authorisation, event: Event) -> bool:
        """Record (or renew, after a withdrawal or expiry) an authorisation; False when it was already
        active."""
        key = fact_id(authorisation.kind, authorisation.professional_id, authorisation.ins)
        record = _authorisation_document(authorisation)
        if self.insert_new(FACTS, {"_id": key, **record}, [event]):
            return True
        current = self.db[FACTS].find_one({"_id": key})
        if current is not None and _authorisation(current).active(authorisation.recorded_at):
            return False
        return self.update_with_events(FACTS, {"_id": key}, record, [event]) is not None

    def withdraw(
        self, kind: Kind, ins: str, professional_id: str, by: str, now: datetime, event: Event
    ) -> bool:
        query = {"_id": fact_id(kind, professional_id, ins), "withdrawn": None}
        changes = {"withdrawn": {"at": now, "by": by}}
        return self.update_with_events(FACTS, query, changes, [event]) is not None

    def authorisation(self, kind: Kind, ins: str, professional_id: str) -> Authorisation | None:
        record = self.db[FACTS].find_one({"_id": fact_id(kind, professional_id, ins)}, HIDDEN)
        return _authorisation(record) if record is not None else None

    def authorisations(self, kind: Kind, ins: str, now: datetime) -> list[Authorisation]:
        # By patient (indexed), then by kind: a patient has a handful of facts.
        found = (
            _authorisation(r)
            for r in self.db[FACTS].find({"ins": ins}, HIDDEN)
            if r["kind"] == kind.value
        )
        return [authorisation for authorisation in found if authorisation.active(now)]

    # The patient's settings: one document per patient.

    def patient_settings(self, ins: str) -> PatientSettings:
        return _settings(ins, self.db[FACTS].find_one({"_id": fact_id(Kind.SETTINGS, ins)}, HIDDEN))

    def save_settings(self, settings: PatientSettings, event: Event) -> None:
        """Write settings back as changed from what was read; Conflict when they changed meanwhile (the
        caller asks again: a block and an unblock at once must not lose one). Compared on the settings'
        own revision, not the document's version, which the outbox relay moves too."""
        key = fact_id(Kind.SETTINGS, settings.ins)
        document = _settings_document(settings)
        if settings.version is None:
            if self.insert_new(FACTS, {"_id": key, **document}, [event]):
                return
        else:
            # Revision 0 is no field at all: so are the settings written before there were revisions.
            read = {"$exists": False} if settings.version == 0 else settings.version
            changes = {**document, "revision": settings.version + 1}
            if (
                self.update_with_events(FACTS, {"_id": key, "revision": read}, changes, [event])
                is not None
            ):
                return
        raise settings_changed_meanwhile()

    # Emergency accesses: the latest of each professional on each dossier decides (it ends last); the
    # earlier ones stay inside it, reason included.

    def start_emergency(self, emergency: EmergencyRecord, event: Event) -> None:
        key = fact_id(Kind.EMERGENCY, emergency.professional_id, emergency.ins)
        record = _emergency_document(emergency)
        if self.insert_new(FACTS, {"_id": key, **record, "earlier": []}, [event]):
            return
        for _ in range(10):  # compare-and-set on the version, so that no earlier access is lost
            current = self.db[FACTS].find_one({"_id": key})
            if current is None:
                break
            earlier = [
                *current.get("earlier", []),
                {name: current[name] for name in EMERGENCY_FIELDS},
            ]
            query = {"_id": key, "_version": current.get("_version", 0)}
            if (
                self.update_with_events(FACTS, query, {**record, "earlier": earlier}, [event])
                is not None
            ):
                return
        raise ServiceUnavailable("the record is changing too often; nothing was changed, retry")

    # Account statuses, learnt from identity's events.

    def apply_status(self, actor_id: str, status: str, changed_at: datetime) -> None:
        """Keep the newest status of an account (events may arrive late or twice)."""
        key, changed_ms = fact_id(Kind.STATUS, actor_id), ms(changed_at)
        try:
            self.db[FACTS].insert_one(
                {"_id": key, "kind": Kind.STATUS.value, "status": status, "changed_ms": changed_ms}
            )
        except DuplicateKeyError:
            self.db[FACTS].update_one(
                {"_id": key, "changed_ms": {"$lt": changed_ms}},
                {"$set": {"status": status, "changed_ms": changed_ms}},
            )

    def suspended(self, actor_id: str) -> bool:
        return _suspended(self.db[FACTS].find_one({"_id": fact_id(Kind.STATUS, actor_id)}))


EMERGENCY_FIELDS = ("event_id", "regulator", "reason", "started", "expires_ms")
EARLIER_COLLECTIONS = {
    "consents": Kind.CONSENT,
    "care_team": Kind.CARE_TEAM,
    "occupational_consents": Kind.OCCUPATIONAL_CONSENT,
    "patient_settings": Kind.SETTINGS,
    "account_status": Kind.STATUS,
    "emergencies": Kind.EMERGENCY,
}


def move_earlier_layout(database: Database[dict[str, Any]]) -> None:
    """Move records of the layout before `facts` (a collection per kind) into it, events still pending
    included, then drop the old collection. Run at start, before any request; a crash half-way is finished
    at the next start (a record already moved is not moved twice)."""
    present = set(database.list_collection_names())
    for name, kind in EARLIER_COLLECTIONS.items():
        if name not in present:
            continue
        by_key: dict[str, list[dict[str, Any]]] = {}
        for record in sorted(
            database[name].find({}), key=lambda r: r.get("expires_ms", 0)
        ):  # oldest first
            by_key.setdefault(_earlier_key(kind, record), []).append(record)
        for key, records in by_key.items():
            latest = {**records[-1], "_id": key, "kind": kind.value}
            if kind is Kind.SETTINGS:
                latest["ins"] = records[-1]["_id"]  # the settings' key was the INS
            if (
                kind is Kind.EMERGENCY
            ):  # one per professional and dossier: the one that ends last decides
                latest["event_id"] = records[-1]["_id"]
                latest["earlier"] = [
                    {**{f: r.get(f) for f in EMERGENCY_FIELDS}, "event_id": r["_id"]}
                    for r in records[:-1]
                ]
            with suppress(DuplicateKeyError):  # moved by an earlier start
                database[FACTS].insert_one(latest)
        database.drop_collection(name)


def _earlier_key(kind: Kind, record: dict[str, Any]) -> str:
    if kind in (Kind.SETTINGS, Kind.STATUS):  # keyed by the patient's INS, by the actor
        return fact_id(kind, record["_id"])
    return fact_id(kind, record["professional_id"], record["ins"])


def _suspended(status: dict[str, Any] | None) -> bool:
    return suspended(status["status"] if status is not None else None)


# Records and their documents, in one place. Compared times are epoch milliseconds and shown ones nested in
# {"at": ...}: nx-27017 turns a top-level datetime written by $set into a string.


def _authorisation_document(authorisation: Authorisation) -> dict[str, Any]:
    document: dict[str, Any] = {
        "kind": authorisation.kind.value,
        "ins": authorisation.ins,
        "patient_id": authorisation.patient_id,
        "professional_id": authorisation.professional_id,
        "recorded": {
            "at": authorisation.recorded_at,
            "by": authorisation.recorded_by,
            "ms": ms(authorisation.recorded_at),
        },
        "from_ms": ms(authorisation.recorded_at),
        "until_ms": ms(authorisation.until) if authorisation.until else None,
        "withdrawn": None,
    }
    if authorisation.kind is Kind.CARE_TEAM:
        document |= {
            "organisation": authorisation.organisation,
            "patient_informed": authorisation.patient_informed,
        }
    return document


def _authorisation(document: dict[str, Any]) -> Authorisation:
    withdrawn = document.get("withdrawn")
    return Authorisation(
        kind=Kind(document["kind"]),
        ins=document["ins"],
        patient_id=document["patient_id"],
        professional_id=document["professional_id"],
        recorded_at=document["recorded"]["at"],
        recorded_by=document["recorded"]["by"],
        until=_moment(document.get("until_ms")),
        withdrawn_at=withdrawn["at"] if withdrawn else None,
        organisation=document.get("organisation"),
        patient_informed=bool(document.get("patient_informed")),  # the store may answer 0/1
    )


def _settings(ins: str, document: dict[str, Any] | None) -> PatientSettings:
    if document is None:
        return PatientSettings(ins=ins)
    return PatientSettings(
        ins=ins,
        patient_id=document.get("patient_id"),
        medecin_traitant=document.get("medecin_traitant"),
        history=tuple(
            Period(p["professional_id"], p["from"], p.get("until"))
            for p in document.get("mt_history", [])
        ),
        proposals=tuple(
            Proposal(p["professional_id"], datetime.fromisoformat(p["at"]))
            for p in document.get("mt_proposals", [])
        ),
        blocked=tuple(document.get("blocked", [])),
        oppose_emergency=bool(document.get("oppose_emergency")),
        oppose_regulator=bool(document.get("oppose_regulator")),
        version=document.get("revision", 0),
    )


def _settings_document(settings: PatientSettings) -> dict[str, Any]:
    return {
        "kind": Kind.SETTINGS.value,
        "ins": settings.ins,
        "patient_id": settings.patient_id,
        "medecin_traitant": settings.medecin_traitant,
        "mt_history": [
            {
                "professional_id": p.professional_id,
                "from": p.start,
                **({"until": p.end} if p.end else {}),
            }
            for p in settings.history
        ],
        "mt_proposals": [
            {"professional_id": p.professional_id, "at": p.at.isoformat()}
            for p in settings.proposals
        ],
        "blocked": list(settings.blocked),
        "oppose_emergency": settings.oppose_emergency,
        "oppose_regulator": settings.oppose_regulator,
    }


def _emergency_document(emergency: EmergencyRecord) -> dict[str, Any]:
    return {
        "kind": Kind.EMERGENCY.value,
        "event_id": emergency.event_id,
        "ins": emergency.ins,
        "patient_id": emergency.patient_id,
        "professional_id": emergency.professional_id,
        "regulator": emergency.regulator,
        "reason": emergency.reason,
        "started": {"at": emergency.started_at, "until": emergency.until},
        "expires_ms": ms(emergency.until),
    }


def _emergency(document: dict[str, Any]) -> EmergencyRecord:
    return EmergencyRecord(
        event_id=document["event_id"],
        ins=document["ins"],
        patient_id=document["patient_id"],
        professional_id=document["professional_id"],
        regulator=bool(document["regulator"]),
        reason=document["reason"],
        started_at=document["started"]["at"],
        until=document["started"]["until"],
    )
