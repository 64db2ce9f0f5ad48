"""identity's use cases in the fast tier: every entrypoint driven through nameko's worker_factory with the
in-memory store, a settable clock, real tokens and signatures, and a fake notify. Arguments go in as they
arrive over the bus (JSON), so the typed boundary validates them; each test reads what a caller would see:
the answer or the refusal, the events published, what a later call shows."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from nameko.testing.services import worker_factory

from services.common.actors import ActorKind
from services.common.errors import (
    AccessDenied,
    Conflict,
    DmpError,
    InvalidInput,
    NotFound,
    TooManyRequests,
    Unauthenticated,
)
from services.common.events import Event, EventType, Outcome
from services.common.settings import Settings
from services.common.tokens import verified, verify
from services.identity import login
from services.identity.memory import MemoryIdentityStore
from services.identity.service import IdentityService
from tests.clocks import SettableClock
from tests.identities import Card, make_rpps, registration
from tests.identity.fakes import AfterReply, FakeNotify
from tests.live_settings import live_settings
from tests.oidc import Issuer

ADDRESS = "192.0.2.7"
KEYS = (
    "DMP_TOKEN_SIGNING_KEY",
    "DMP_TOKEN_PUBLIC_KEYS",
    "DMP_LOGIN_CODE_KEY",
    "DMP_IDENTITY_MESSAGE_KEY",
)


@dataclass
class Identity:
    service: Any  # the service's worker, its dependencies ours
    store: MemoryIdentityStore
    clock: SettableClock
    notify: FakeNotify
    later: AfterReply

    def events(self, kind: EventType) -> list[Event]:
        return [event for event in self.store.events if event.type is kind]

    def patient(self, born: date = date(1980, 1, 15), **overrides: str) -> dict[str, str]:
        details = registration(born=born, **overrides)
        self.service.register_patient(details)
        return details

    def professional(self, **overrides: Any) -> str:
        rpps = make_rpps()
        self.service.register_professional(
            {
                "rpps": rpps,
                "profession": "10",
                "given_name": "Alex",
                "family_name": "Durand",
                **overrides,
            }
        )
        return rpps

    def token(self, ins: str) -> str:
        answer: dict[str, Any] = self.service.issue_dev_token({"kind": "patient", "ins": ins})
        return str(answer["access_token"])

    def logged_in(self, details: dict[str, str]) -> dict[str, Any]:
        """A patient's session, through a login code sent to their email."""
        self.service.request_login_code({"ins": details["ins"]}, ADDRESS)
        self.later.answer_left()
        code = self.notify.last_code(details["email"])
        session: dict[str, Any] = self.service.login_with_code(
            {"ins": details["ins"], "code": code}, ADDRESS
        )
        return session


@pytest.fixture
def identity(monkeypatch: pytest.MonkeyPatch, secrets: dict[str, str]) -> Identity:
    for name in KEYS:
        monkeypatch.setenv(name, secrets[name])
    monkeypatch.setenv("DMP_DEV_LOGIN", "true")
    store, clock, notify, later = MemoryIdentityStore(), SettableClock(), FakeNotify(), AfterReply()
    service = worker_factory(
        IdentityService,
        settings=live_settings(),
        store=store,
        clock=clock,
        notify=notify,
        later=later,
    )
    return Identity(service, store, clock, notify, later)


def fields(error: pytest.ExceptionInfo[DmpError]) -> list[str]:
    return [detail.get("field", "") for detail in error.value.details]


# Enrolment


def test_a_registered_patient_is_found_by_ins_and_announced(identity: Identity) -> None:
    details = identity.patient()
    patient_id = identity.service.patient_id_for(details["ins"])
    assert patient_id.startswith("pat")
    assert [e.patient_id for e in identity.events(EventType.PATIENT_REGISTERED)] == [patient_id]


def test_a_patient_is_registered_once(identity: Identity) -> None:
    details = identity.patient()
    with pytest.raises(Conflict) as refused:
        identity.service.register_patient({**details, "email": "other@patients.dmp-test.fr"})
    assert fields(refused) == ["ins"] and len(identity.events(EventType.PATIENT_REGISTERED)) == 1


def test_a_registration_contradicting_its_ins_or_malformed_names_the_field(
    identity: Identity,
) -> None:
    details = registration()
    with pytest.raises(InvalidInput) as mismatch:
        identity.service.register_patient({**details, "sex": "M"})
    with pytest.raises(InvalidInput) as malformed:
        identity.service.register_patient({**details, "email": "not an address"})
    assert fields(mismatch) == ["sex"] and fields(malformed) == ["email"]
    assert identity.store.patients == {}


def test_no_enrolment_when_development_login_is_off(
    identity: Identity, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DMP_DEV_LOGIN", "false")
    with pytest.raises(AccessDenied) as refused:
        identity.service.register_patient(registration())
    assert refused.value.details[0]["rule"] == "R-DEV-LOGIN-OFF" and identity.store.events == []


def test_a_professional_is_registered_once_and_a_malformed_rpps_is_refused(
    identity: Identity,
) -> None:
    rpps = identity.professional(email="dr@pro.dmp-test.fr")
    assert identity.service.professional_contact(f"rpps:{rpps}") == {
        "email": "dr@pro.dmp-test.fr",
        "language": "fr",
        "profession": "10",
    }
    again = {"rpps": rpps, "profession": "10", "given_name": "A", "family_name": "B"}
    with pytest.raises(Conflict) as taken:
        identity.service.register_professional(again)
    with pytest.raises(InvalidInput) as malformed:
        identity.service.register_professional({**again, "rpps": "123"})
    assert fields(taken) == ["rpps"] and fields(malformed) == ["rpps"]
    assert len(identity.events(EventType.PROFESSIONAL_REGISTERED)) == 1


def test_an_unknown_professional_has_no_contact(identity: Identity) -> None:
    empty = {"email": "", "language": "fr", "profession": ""}
    assert identity.service.professional_contact("rpps:19999999999") == empty
    assert identity.service.professional_contact("agent:CPAM75-1") == empty


def test_an_agent_is_registered_once(identity: Identity) -> None:
    agent = {
        "agent_id": "CPAM75-0042",
        "organisation": "751",
        "given_name": "Léa",
        "family_name": "Roy",
        "card_public_key": Card().public_pem,
    }
    assert identity.service.register_agent(agent) == {"actor_id": "agent:CPAM75-0042"}
    with pytest.raises(Conflict):
        identity.service.register_agent(agent)
    assert [e.data["actor_id"] for e in identity.events(EventType.AGENT_REGISTERED)] == [
        "agent:CPAM75-0042"
    ]


def test_a_system_is_registered_and_a_malformed_client_id_is_refused(identity: Identity) -> None:
    system = {"client_id": "reimbursement-feed", "public_key": Card().public_pem}
    assert identity.service.register_system(system) == {"actor_id": "system:reimbursement-feed"}
    with pytest.raises(Conflict):
        identity.service.register_system(system)
    with pytest.raises(InvalidInput) as malformed:
        identity.service.register_system({**system, "client_id": "No Spaces"})
    assert fields(malformed) == ["client_id"]


def test_an_adult_represents_a_minor_and_consent_learns_the_minors_birth_date(
    identity: Identity,
) -> None:
    adult = identity.patient()
    born = identity.clock.now().date() - timedelta(days=365 * 10)
    minor = identity.patient(born=born)
    answer = identity.service.add_representative(minor["ins"], {"representative_ins": adult["ins"]})
    assert identity.service.represented_birth_date(
        answer["representative_id"], answer["minor_id"]
    ) == (born.isoformat())
    assert [e.patient_id for e in identity.events(EventType.REPRESENTATIVE_ADDED)] == [
        answer["minor_id"]
    ]


def test_a_minor_cannot_represent_and_nobody_represents_an_unknown_patient(
    identity: Identity,
) -> None:
    born = identity.clock.now().date() - timedelta(days=365 * 10)
    minor, other_minor = identity.patient(born=born), identity.patient(born=born)
    with pytest.raises(InvalidInput) as not_adult:
        identity.service.add_representative(
            minor["ins"], {"representative_ins": other_minor["ins"]}
        )
    with pytest.raises(NotFound) as unknown:
        identity.service.add_representative(
            registration()["ins"], {"representative_ins": minor["ins"]}
        )
    assert fields(not_adult) == ["representative_ins"] and fields(unknown) == ["ins"]
    assert identity.events(EventType.REPRESENTATIVE_ADDED) == []


def test_who_does_not_represent_the_patient_learns_nothing(identity: Identity) -> None:
    adult, other = identity.patient(), identity.patient()
    adult_id, other_id = (identity.service.patient_id_for(p["ins"]) for p in (adult, other))
    assert identity.service.represented_birth_date(adult_id, other_id) is None


def test_a_development_token_speaks_for_the_registered_actor(identity: Identity) -> None:
    details, rpps = identity.patient(), identity.professional()
    patient = verify(identity.token(details["ins"]), Settings.load())
    professional = identity.service.issue_dev_token({"kind": "professional", "rpps": rpps})
    assert patient.kind is ActorKind.PATIENT and patient.ins == details["ins"]
    assert verify(professional["access_token"], Settings.load()).rpps == rpps


def test_a_development_token_needs_its_identifier_and_a_registered_actor(
    identity: Identity,
) -> None:
    with pytest.raises(InvalidInput) as missing:
        identity.service.issue_dev_token({"kind": "patient"})
    with pytest.raises(NotFound) as unknown:
        identity.service.issue_dev_token({"kind": "professional", "rpps": make_rpps()})
    with pytest.raises(InvalidInput) as kind:
        identity.service.issue_dev_token({"kind": "insurer"})
    assert fields(missing) == ["ins"] and fields(unknown) == ["rpps"] and fields(kind) == ["kind"]


# Patients' login


def test_a_login_code_reaches_the_patient_after_the_answer_and_logs_them_in(
    identity: Identity,
) -> None:
    details = identity.patient()
    answer = identity.service.request_login_code({"ins": details["ins"]}, ADDRESS)
    assert (
        answer == {"status": "sent_if_registered", "expires_in": 300} and identity.notify.sent == []
    )  # not before the answer
    identity.later.answer_left()
    code = identity.notify.last_code(details["email"])
    session = identity.service.login_with_code({"ins": details["ins"], "code": code}, ADDRESS)
    assert (
        verify(session["access_token"], Settings.load()).ins == details["ins"]
        and session["refresh_token"]
    )
    logged_in = identity.events(EventType.LOGGED_IN)
    assert [e.data["method"] for e in logged_in] == ["one_time_code"]
    assert identity.store.patients[logged_in[0].patient_id or ""].email_verified_at is not None


def test_an_unknown_ins_gets_the_same_answer_and_nobody_receives_a_code(
    identity: Identity,
) -> None:
    answer = identity.service.request_login_code({"ins": registration()["ins"]}, ADDRESS)
    identity.later.answer_left()
    assert (
        answer == {"status": "sent_if_registered", "expires_in": 300} and identity.notify.sent == []
    )


def test_a_login_code_request_names_a_bad_channel_and_is_limited_per_patient(
    identity: Identity,
) -> None:
    details = identity.patient()
    with pytest.raises(InvalidInput) as bad:
        identity.service.request_login_code({"ins": details["ins"], "channel": "fax"}, ADDRESS)
    assert fields(bad) == ["channel"]
    for _ in range(login.CODES_PER_PATIENT.limit):
        identity.service.request_login_code({"ins": details["ins"]}, ADDRESS)
    with pytest.raises(TooManyRequests):
        identity.service.request_login_code({"ins": details["ins"]}, ADDRESS)


def test_a_wrong_code_is_refused_and_traced_and_five_lock_the_code(identity: Identity) -> None:
    details = identity.patient()
    identity.service.request_login_code({"ins": details["ins"]}, ADDRESS)
    identity.later.answer_left()
    right = identity.notify.last_code(details["email"])
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    for _ in range(login.CODE_MAX_ATTEMPTS):
        with pytest.raises(Unauthenticated):
            identity.service.login_with_code({"ins": details["ins"], "code": wrong}, ADDRESS)
    with pytest.raises(Unauthenticated):  # the right code no longer works
        identity.service.login_with_code({"ins": details["ins"], "code": right}, ADDRESS)
    failed = identity.events(EventType.LOGIN_FAILED)
    assert len(failed) == login.CODE_MAX_ATTEMPTS + 1
    assert {(e.outcome, e.rule) for e in failed} == {(Outcome.DENIED, "R-LOGIN-CODE")}
    assert identity.events(EventType.LOGGED_IN) == []


def test_a_malformed_or_expired_code_is_refused(identity: Identity) -> None:
    details = identity.patient()
    with pytest.raises(InvalidInput) as malformed:
        identity.service.login_with_code({"ins": details["ins"], "code": "12ab"}, ADDRESS)
    assert fields(malformed) == ["code"]
    identity.service.request_login_code({"ins": details["ins"]}, ADDRESS)
    identity.later.answer_left()
    identity.clock.advance(login.CODE_TTL + timedelta(seconds=1))
    code = identity.notify.last_code(details["email"])
    with pytest.raises(Unauthenticated):
        identity.service.login_with_code({"ins": details["ins"], "code": code}, ADDRESS)


def test_the_opened_dossier_sends_the_first_access_code_at_once(identity: Identity) -> None:
    details = identity.patient()
    patient_id = identity.service.patient_id_for(details["ins"])
    opened = Event.of(
        EventType.DOSSIER_OPENED, "dossier", identity.clock.now(), None, patient_id=patient_id
    )
    identity.service.send_first_access_code(opened.model_dump(mode="json"))
    [message] = identity.notify.sent  # not deferred: the event is acknowledged once it is out
    assert (message.to, message.kind, message.channel) == (details["email"], "login_code", "email")


def test_a_malformed_or_unknown_patients_event_sends_nothing(identity: Identity) -> None:
    identity.service.send_first_access_code({"event_id": "e1", "type": "dossier_opened"})
    unknown = Event.of(
        EventType.DOSSIER_OPENED, "dossier", identity.clock.now(), None, patient_id="pat_x"
    )
    identity.service.send_first_access_code(unknown.model_dump(mode="json"))
    identity.later.answer_left()
    assert identity.notify.sent == [] and len(identity.store.parked) == 1


# Contact details


def test_a_new_email_replaces_the_old_once_its_code_comes_back(identity: Identity) -> None:
    details = identity.patient()
    token = identity.token(details["ins"])
    new = "new@patients.dmp-test.fr"
    assert identity.service.request_contact_change(token, details["ins"], {"email": new}) == {
        "status": "code_sent",
        "expires_in": 300,
    }
    identity.later.answer_left()
    code = identity.notify.last_code(new)
    answer = identity.service.confirm_contact_change(token, details["ins"], {"code": code})
    identity.later.answer_left()
    assert answer == {"status": "changed"}
    patient_id = identity.service.patient_id_for(details["ins"])
    assert identity.service.contact_of(patient_id)["email"] == new
    assert [(m.to, m.kind) for m in identity.notify.sent][-1] == (
        details["email"],
        "contact_changed",
    )
    assert [e.data for e in identity.events(EventType.CONTACT_CHANGED)] == [{"channel": "email"}]


def test_only_the_holder_changes_their_contact_and_the_refusal_is_traced(
    identity: Identity,
) -> None:
    holder, other = identity.patient(), identity.patient()
    with pytest.raises(AccessDenied) as refused:
        identity.service.request_contact_change(
            identity.token(other["ins"]), holder["ins"], {"email": "x@patients.dmp-test.fr"}
        )
    assert refused.value.details[0]["rule"] == "R-HOLDER-ONLY"
    [denied] = identity.events(EventType.ACCESS_DENIED)
    assert denied.rule == "R-HOLDER-ONLY" and denied.data == {"action": "change_contact"}
    identity.later.answer_left()
    assert identity.notify.sent == []


def test_a_contact_change_needs_exactly_one_address_and_the_right_code(identity: Identity) -> None:
    details = identity.patient()
    token = identity.token(details["ins"])
    with pytest.raises(InvalidInput):
        identity.service.request_contact_change(token, details["ins"], {})
    identity.service.request_contact_change(token, details["ins"], {"mobile": "+33612345678"})
    identity.later.answer_left()
    code = identity.notify.last_code("+33612345678")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    with pytest.raises(Unauthenticated):
        identity.service.confirm_contact_change(token, details["ins"], {"code": wrong})
    patient_id = identity.service.patient_id_for(details["ins"])
    assert identity.service.contact_of(patient_id)["mobile"] == ""
    assert identity.events(EventType.CONTACT_CHANGED) == []


def test_contact_of_an_unknown_patient_is_not_found(identity: Identity) -> None:
    with pytest.raises(NotFound):
        identity.service.contact_of("pat_unknown")


# Sessions


def test_a_refresh_token_gives_new_tokens_once_and_a_replay_ends_the_session(
    identity: Identity,
) -> None:
    session = identity.logged_in(identity.patient())
    renewed = identity.service.refresh({"refresh_token": session["refresh_token"]}, ADDRESS)
    assert (
        verified(renewed["access_token"], Settings.load()).session_id
        == verified(session["access_token"], Settings.load()).session_id
    )
    with pytest.raises(Unauthenticated, match="ended"):
        identity.service.refresh({"refresh_token": session["refresh_token"]}, ADDRESS)
    with pytest.raises(Unauthenticated):  # the renewed one went with the session
        identity.service.refresh({"refresh_token": renewed["refresh_token"]}, ADDRESS)
    [ended] = identity.events(EventType.SESSION_ENDED)
    assert ended.data["reason"] == "refresh_replayed"


def test_a_malformed_or_expired_refresh_token_is_refused(identity: Identity) -> None:
    with pytest.raises(InvalidInput) as malformed:
        identity.service.refresh({"refresh_token": "short"}, ADDRESS)
    assert fields(malformed) == ["refresh_token"]
    session = identity.logged_in(identity.patient())
    identity.clock.advance(login.REFRESH_TTL + timedelta(seconds=1))
    with pytest.raises(Unauthenticated, match="expired"):
        identity.service.refresh({"refresh_token": session["refresh_token"]}, ADDRESS)


def test_logout_ends_the_session_everywhere_and_lists_it_until_its_tokens_expire(
    identity: Identity,
) -> None:
    session = identity.logged_in(identity.patient())
    answer = identity.service.logout(
        session["access_token"], {"refresh_token": session["refresh_token"]}
    )
    assert answer == {"status": "logged_out"}
    with pytest.raises(Unauthenticated):
        verify(session["access_token"], Settings.load())
    with pytest.raises(Unauthenticated):
        identity.service.refresh({"refresh_token": session["refresh_token"]}, ADDRESS)
    sid = identity.events(EventType.SESSION_ENDED)[-1].data["session_id"]
    assert sid in [s["session_id"] for s in identity.service.ended_sessions()]
    identity.clock.advance(timedelta(hours=1))
    assert sid not in [s["session_id"] for s in identity.service.ended_sessions()]


def test_logout_without_a_valid_token_ends_nothing(identity: Identity) -> None:
    with pytest.raises(Unauthenticated):
        identity.service.logout("not-a-token", {})
    assert identity.events(EventType.SESSION_ENDED) == []
    assert identity.service.ended_sessions() == []


# Cards, keys and external issuers


def test_a_card_signs_the_challenge_to_log_in_once(identity: Identity) -> None:
    card = Card()
    rpps = identity.professional(card_public_key=card.public_pem)
    actor_id = f"rpps:{rpps}"
    challenge = identity.service.request_card_challenge({"actor_id": actor_id}, ADDRESS)
    signed = {
        "actor_id": actor_id,
        "nonce": challenge["nonce"],
        "signature": card.sign(challenge["nonce"]),
    }
    assert (
        verify(
            identity.service.login_with_card(signed, ADDRESS)["access_token"], Settings.load()
        ).rpps
        == rpps
    )
    with pytest.raises(Unauthenticated):  # the challenge is used up
        identity.service.login_with_card(signed, ADDRESS)
    assert [e.data["method"] for e in identity.events(EventType.LOGGED_IN)] == ["card"]


def test_another_cards_signature_or_a_malformed_actor_is_refused(identity: Identity) -> None:
    rpps = identity.professional(card_public_key=Card().public_pem)
    actor_id = f"rpps:{rpps}"
    with pytest.raises(InvalidInput) as malformed:
        identity.service.request_card_challenge({"actor_id": "nobody"}, ADDRESS)
    assert fields(malformed) == ["actor_id"]
    challenge = identity.service.request_card_challenge({"actor_id": actor_id}, ADDRESS)
    forged = {
        "actor_id": actor_id,
        "nonce": challenge["nonce"],
        "signature": Card().sign(challenge["nonce"]),
    }
    with pytest.raises(Unauthenticated, match="signature"):
        identity.service.login_with_card(forged, ADDRESS)
    assert identity.events(EventType.LOGGED_IN) == []


@pytest.fixture
def issuer(monkeypatch: pytest.MonkeyPatch) -> Iterator[Issuer]:
    issuer = Issuer(kid=f"psc-{uuid.uuid4().hex[:6]}")
    monkeypatch.setenv("DMP_TRUSTED_ISSUERS", json.dumps([issuer.config]))
    yield issuer
    issuer.close()


def test_a_trusted_issuers_id_token_logs_a_registered_professional_in(
    identity: Identity, issuer: Issuer
) -> None:
    rpps = identity.professional()
    answer = identity.service.login_with_external({"id_token": issuer.id_token(rpps)}, ADDRESS)
    assert verify(answer["access_token"], Settings.load()).rpps == rpps
    assert [e.data["method"] for e in identity.events(EventType.LOGGED_IN)] == ["external_oidc"]


def test_an_id_token_for_an_unregistered_professional_is_refused(
    identity: Identity, issuer: Issuer
) -> None:
    with pytest.raises(Unauthenticated, match="not registered"):
        identity.service.login_with_external({"id_token": issuer.id_token(make_rpps())}, ADDRESS)
    with pytest.raises(InvalidInput) as malformed:
        identity.service.login_with_external({"id_token": "short"}, ADDRESS)
    assert fields(malformed) == ["id_token"] and identity.events(EventType.LOGGED_IN) == []


# Operators


def test_a_suspended_account_is_announced_first_and_can_no_longer_log_in(
    identity: Identity,
) -> None:
    rpps = identity.professional()
    actor_id = f"rpps:{rpps}"
    answer = identity.service.set_status(actor_id, "suspended")
    assert answer == {"actor_id": actor_id, "status": "suspended"}
    [changed] = identity.events(EventType.ACCOUNT_STATUS_CHANGED)
    assert (changed.data["actor_id"], changed.data["status"]) == (actor_id, "suspended")
    with pytest.raises(AccessDenied) as refused:
        identity.service.issue_dev_token({"kind": "professional", "rpps": rpps})
    assert refused.value.details[0]["rule"] == "R-SUSPENDED"
    identity.service.set_status(actor_id, "active")
    assert identity.service.issue_dev_token({"kind": "professional", "rpps": rpps})


def test_a_status_change_names_a_bad_status_or_account(identity: Identity) -> None:
    with pytest.raises(InvalidInput) as status:
        identity.service.set_status(f"rpps:{make_rpps()}", "deleted")
    with pytest.raises(InvalidInput) as actor:
        identity.service.set_status("nobody", "active")
    with pytest.raises(NotFound) as unknown:
        identity.service.set_status(f"rpps:{make_rpps()}", "suspended")
    assert fields(status) == ["status"] and fields(actor) == ["actor_id"]
    assert fields(unknown) == ["actor_id"]
    assert identity.events(EventType.ACCOUNT_STATUS_CHANGED) == []


# Identity checks and look-ups


def test_a_professional_checks_the_patients_traits(identity: Identity) -> None:
    details = identity.patient(family_name="Martin-Dupont")
    doctor = identity.service.issue_dev_token(
        {"kind": "professional", "rpps": identity.professional()}
    )["access_token"]
    checked = identity.service.check_patient_identity(
        doctor,
        {
            "ins": details["ins"],
            "family_name": "MARTIN DUPONT",
            "birth_date": details["birth_date"],
        },
    )
    assert checked["ins"] == details["ins"] and checked["given_name"] == "Camille"


def test_a_mismatch_answers_like_an_unknown_ins_and_a_patient_may_not_check(
    identity: Identity,
) -> None:
    details = identity.patient()
    doctor = identity.service.issue_dev_token(
        {"kind": "professional", "rpps": identity.professional()}
    )["access_token"]
    answers = []
    for ins, family_name in ((details["ins"], "Autre"), (registration()["ins"], "Martin")):
        with pytest.raises(NotFound) as refused:
            identity.service.check_patient_identity(
                doctor, {"ins": ins, "family_name": family_name, "birth_date": "1980-01-15"}
            )
        answers.append((refused.value.message, refused.value.details))
    assert answers[0] == answers[1]
    with pytest.raises(AccessDenied) as patient:
        identity.service.check_patient_identity(
            identity.token(details["ins"]),
            {"ins": details["ins"], "family_name": "Martin", "birth_date": "1980-01-15"},
        )
    assert fields(patient) == ["token"]


def test_patient_id_for_names_an_unknown_or_malformed_ins(identity: Identity) -> None:
    with pytest.raises(NotFound) as unknown:
        identity.service.patient_id_for(registration()["ins"])
    with pytest.raises(InvalidInput) as malformed:
        identity.service.patient_id_for("123")
    assert fields(unknown) == ["ins"] and fields(malformed) == ["ins"]


def test_contact_of_gives_where_to_reach_the_patient(identity: Identity) -> None:
    details = identity.patient(language="en")
    patient_id = identity.service.patient_id_for(details["ins"])
    assert identity.service.contact_of(patient_id) == {
        "email": details["email"],
        "mobile": "",
        "language": "en",
    }


def test_a_patient_come_of_age_gets_no_new_representative(identity: Identity) -> None:
    born = date(2015, 6, 1)
    minor = identity.patient(born=born)
    adult = identity.patient()
    identity.service.add_representative(minor["ins"], {"representative_ins": adult["ins"]})
    identity.clock.advance(timedelta(days=365 * 30))
    with pytest.raises(Conflict) as grown:  # no longer a minor: no new representative
        identity.service.add_representative(minor["ins"], {"representative_ins": adult["ins"]})
    assert fields(grown) == ["ins"]
