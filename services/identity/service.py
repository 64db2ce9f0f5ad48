"""identity: patients, professionals and their access tokens."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from services.common.actors import Actor, ActorKind
from services.common.after_reply import AfterReply
from services.common.clock import Clock
from services.common.entrypoints import rpc
from services.common.errors import AccessDenied, Conflict, InvalidInput, NotFound, TooManyRequests, Unauthenticated
from services.common.events import Event, EventType, Outcome
from services.common.health import HealthMixin
from services.common.identifiers import check_actor_id, demographics_mismatch, require_ins
from services.common.ids import new_id
from services.common.majority import is_minor
from services.common.principals import CLIENTS, EVERYONE, OPERATORS
from services.common.rpc_client import ServiceRpc, call_async
from services.common.schemas import (
    IDENTITY_MESSAGE,
    AccessToken,
    AgentRegistration,
    CardChallenge,
    CardChallengeRequest,
    CardLogin,
    ContactChange,
    ContactCode,
    DevTokenRequest,
    ExternalLogin,
    IdentityCheck,
    IdentityChecked,
    LoginCodeCheck,
    LoginCodeRequest,
    LoginCodeSent,
    LogoutRequest,
    PatientRegistration,
    ProfessionalRegistration,
    RefreshRequest,
    Representation,
    SystemRegistration,
)
from services.common.sealing import seal_json
from services.common.sessions import ENDED, EndedSession, session_until
from services.common.settings import Settings, secret_bytes
from services.common.store import StoreProvider
from services.common.subscriptions import subscribe
from services.common.tokens import CLOCK_SKEW_SECONDS, issue, signing_key_from_env, verified, verify
from services.common.validation import parse
from services.identity import exceptions, external, login, traits
from services.identity.store import IdentityStore
from services.notify.client import NotifyClient

CONTACT_FIELDS = {"email": "email", "sms": "mobile"}  # channel -> the patient field it reaches


class IdentityService(HealthMixin):
    name = "identity"

    store: IdentityStore = StoreProvider(IdentityStore)
    notify: NotifyClient = ServiceRpc("notify")
    later: Callable[[Callable[[], object]], None] = AfterReply()
    clock: Clock = Clock()

    def _require_dev_login(self) -> Settings:
        settings = Settings.from_env()
        if not settings.dev_login:
            raise exceptions.dev_login_disabled()
        return settings

    @rpc(callers=("gateway", OPERATORS))
    def register_patient(self, payload: dict[str, Any]) -> dict[str, str]:
        """Development enrolment of a patient (the INSi teleservice replaces it: issue 4)."""
        self._require_dev_login()
        registration = parse(PatientRegistration, payload)
        problems = demographics_mismatch(registration.ins, registration.sex, registration.birth_date)
        if problems:
            raise InvalidInput(InvalidInput.summary(problems), problems)
        now = self.clock.now()
        patient_id = new_id("pat")
        record = {"_id": patient_id, **registration.model_dump(mode="json"), "registered_at": now}
        event = Event.of(EventType.PATIENT_REGISTERED, self.name, now, None, patient_id=patient_id)
        if not self.store.add_patient(record, event):
            raise exceptions.patient_exists()
        return {"patient_id": patient_id}

    @rpc(callers=("gateway", OPERATORS))
    def register_professional(self, payload: dict[str, Any]) -> dict[str, str]:
        """Development enrolment of a professional (the RPPS directory replaces it: issue 4)."""
        self._require_dev_login()
        registration = parse(ProfessionalRegistration, payload)
        professional_id = f"rpps:{registration.rpps}"
        self._register_actor("professionals", professional_id, registration.model_dump(mode="json"),
                             EventType.PROFESSIONAL_REGISTERED, exceptions.professional_exists())
        return {"professional_id": professional_id}

    @rpc(callers=("gateway", OPERATORS))
    def register_agent(self, payload: dict[str, Any]) -> dict[str, str]:
        """Development enrolment of an Assurance Maladie counter agent (with their card's key)."""
        self._require_dev_login()
        registration = parse(AgentRegistration, payload)
        return self._register_actor("agents", f"agent:{registration.agent_id}", registration.model_dump(mode="json"),
                                    EventType.AGENT_REGISTERED, Conflict("this agent id is already registered"))

    @rpc(callers=("gateway", OPERATORS))
    def register_system(self, payload: dict[str, Any]) -> dict[str, str]:
        """Development enrolment of a system client (e.g. the reimbursement feed) and its key."""
        self._require_dev_login()
        registration = parse(SystemRegistration, payload)
        fields = {"client_id": registration.client_id, "card_public_key": registration.public_key}
        return self._register_actor("systems", f"system:{registration.client_id}", fields,
                                    EventType.SYSTEM_REGISTERED, Conflict("this client id is already registered"))

    def _register_actor(
        self, collection: str, actor_id: str, fields: dict[str, Any], kind: EventType, taken: Conflict
    ) -> dict[str, str]:
        now = self.clock.now()
        record = {"_id": actor_id, **fields, "status": "active", "registered_at": now}
        event = Event.of(kind, self.name, now, None, data={"actor_id": actor_id})
        if not self.store.add_actor(collection, record, event):
            raise taken
        return {"actor_id": actor_id}

    @rpc(callers=("gateway", OPERATORS))
    def add_representative(self, minor_ins: str, payload: dict[str, Any]) -> dict[str, str]:
        """Record that an adult is the legal representative of a minor (development enrolment: in
        production this is established at a counter, with proof)."""
        self._require_dev_login()
        request = parse(Representation, payload)
        minor = self.store.patient_by_ins(require_ins(minor_ins))
        representative = self.store.patient_by_ins(request.representative_ins)
        if minor is None or representative is None:
            raise exceptions.unknown_patient()
        today = self.clock.now().date()
        if not is_minor(date.fromisoformat(minor["birth_date"]), today):
            raise Conflict("the represented patient is not a minor", [{"field": "ins"}])
        if is_minor(date.fromisoformat(representative["birth_date"]), today):
            raise InvalidInput.for_field("representative_ins", "a legal representative must be an adult")
        now = self.clock.now()
        record = {"_id": f"{representative['_id']}|{minor['_id']}", "representative_id": representative["_id"],
                  "minor_id": minor["_id"], "added_at": now}
        event = Event.of(EventType.REPRESENTATIVE_ADDED, self.name, now, None, patient_id=minor["_id"],
                         data={"representative_id": representative["_id"]})
        self.store.add_representation(record, event)
        return {"minor_id": minor["_id"], "representative_id": representative["_id"]}

    @rpc(callers=("consent",))
    def represented_birth_date(self, representative_id: str, minor_id: str) -> str | None:
        """The minor's birth date if this patient represents them (consent decides what follows)."""
        if self.store.representation(representative_id, minor_id) is None:
            return None
        minor = self.store.patient(minor_id)
        return str(minor["birth_date"]) if minor else None

    @rpc(callers=("gateway", OPERATORS))
    def issue_dev_token(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A signed token for a registered actor, without a login ceremony (development only)."""
        settings = self._require_dev_login()
        request = parse(DevTokenRequest, payload)
        actor = self._actor_for(request)
        token = issue(actor, signing_key_from_env(), settings, self.clock.now())
        return AccessToken(access_token=token, expires_in=settings.token_ttl_seconds).model_dump()

    def _actor_for(self, request: DevTokenRequest) -> Actor:
        if request.kind == "patient":
            if request.ins is None:
                raise InvalidInput.for_field("ins", "is required for a patient token")
            patient = self.store.patient_by_ins(request.ins)
            if patient is None:
                raise exceptions.unknown_patient()
            return Actor(kind=ActorKind.PATIENT, id=patient["_id"], ins=patient["ins"])
        if request.rpps is None:
            raise InvalidInput.for_field("rpps", "is required for a professional token")
        professional = self.store.professional(request.rpps)
        if professional is None:
            raise exceptions.unknown_professional()
        return self._active_actor(professional)

    @staticmethod
    def _active_actor(record: dict[str, Any]) -> Actor:
        """The actor a professional, agent or system record speaks for, unless it is suspended."""
        if record.get("status") != "active":
            raise AccessDenied.by_rule("R-SUSPENDED", "this account is suspended and may not log in")
        prefix = record["_id"].split(":")[0]
        if prefix == "agent":
            return Actor(kind=ActorKind.COUNTER_AGENT, id=record["_id"], organisation=record["organisation"])
        if prefix == "system":
            return Actor(kind=ActorKind.SYSTEM, id=record["_id"])
        return Actor(
            kind=ActorKind.PROFESSIONAL, id=record["_id"], rpps=record["rpps"],
            profession=record["profession"], organisation=record.get("organisation"),
            roles=tuple(record.get("roles", ())),
        )

    # Login

    def _login_code_key(self) -> bytes:
        return secret_bytes("DMP_LOGIN_CODE_KEY")

    def _limit(self, limit: login.RateLimit, key: str) -> None:
        now = self.clock.now()
        if self.store.count(limit.bucket(key, now)) > limit.limit:
            raise TooManyRequests.retry_in(limit.retry_after(now))

    def _limit_address(self, client_address: str) -> None:
        limit = login.logins_per_address(Settings.from_env().login_rate_per_address)
        self._limit(limit, f"address:{client_address}")

    def _decoy(self, ins: str) -> dict[str, Any]:
        """Who a login code is made for when nobody can receive it (an INS nobody registered, a patient
        without that channel): a subject of its own, keyed by the INS's reference, that no patient is,
        so that every request does the same work and none tells whether the INS is registered."""
        return {"_id": f"decoy:{login.ins_reference(self._login_code_key(), ins)}", "decoy": True}

    def _send_code(
        self, patient: dict[str, Any], purpose: str = "login", channel: str = "email", address: str | None = None,
        defer: bool = True,
    ) -> None:
        """Create a code and have notify deliver it (once the answer has left, when `defer`), unless one
        was sent moments ago. A login code goes to the patient's own email or mobile; a contact code to
        the new address it verifies. A decoy subject gets a code that nobody receives, made the same way."""
        address = address or patient.get(CONTACT_FIELDS[channel])
        if address is None and not patient.get("decoy"):
            patient = self._decoy(str(patient.get("ins", patient["_id"])))
        now = self.clock.now()
        latest = self.store.latest_code(patient["_id"], purpose)
        if (latest is not None and not latest["consumed"] and latest["created_at"] > now - login.RESEND_AFTER
                and latest.get("address") == address):
            return  # throttled: the code sent moments ago is still valid
        challenge_id = new_id("otp")
        code = login.new_code()
        self.store.add_code({
            "_id": challenge_id, "patient_id": patient["_id"], "purpose": purpose, "channel": channel,
            "address": address, "created_at": now, "expires_at": now + login.CODE_TTL, "attempts": 0,
            "consumed": False, "digest": login.code_digest(self._login_code_key(), challenge_id, code),
        })
        if not patient.get("decoy") and address is not None:
            self._tell(patient, f"{purpose}_code", channel, address, defer, code=code,
                       valid_minutes=int(login.CODE_TTL.total_seconds() // 60))

    def _tell(self, patient: dict[str, Any], kind: str, channel: str, to: str, defer: bool = True,
              **fields: Any) -> None:
        """Have notify deliver a message: once this call's answer has left when `defer` (a caller must
        not be able to time it), else now (an event's work, acknowledged only once the message is out)."""
        plain = {"channel": channel, "to": to, "kind": kind, "language": patient.get("language", "fr"), **fields}
        message = {"sealed": seal_json(secret_bytes("DMP_IDENTITY_MESSAGE_KEY"), plain, IDENTITY_MESSAGE)}
        if defer:
            self.later(lambda: call_async(self.notify.deliver_identity_message, message))
        else:
            call_async(self.notify.deliver_identity_message, message)

    def _check_code(self, patient: dict[str, Any], code: str, purpose: str) -> dict[str, Any]:
        """The challenge a right code answers, used up; Unauthenticated otherwise (5 attempts at most).
        Each refusal is traced (login_failed): in a known patient's trail, else in the system's, so that a
        brute force shows and both cases do the same work. A decoy's code never logs anyone in."""
        try:
            challenge = self._match_code(patient, code, purpose)
            if patient.get("decoy"):
                raise Unauthenticated("the code is wrong or has expired; ask for a new code")
            return challenge
        except Unauthenticated as refusal:
            event = Event.of(EventType.LOGIN_FAILED, self.name, self.clock.now(), None,
                             patient_id=None if patient.get("decoy") else patient["_id"], outcome=Outcome.DENIED,
                             rule="R-LOGIN-CODE", data={"method": "one_time_code", "purpose": purpose})
            self.store.record_login(event)
            raise refusal from None

    def _match_code(self, patient: dict[str, Any], code: str, purpose: str) -> dict[str, Any]:
        refused = Unauthenticated("the code is wrong or has expired; ask for a new code")
        challenge = self.store.latest_code(patient["_id"], purpose)
        if challenge is None or challenge["consumed"] or challenge["expires_at"] <= self.clock.now():
            raise refused
        counted = self.store.count_attempt(challenge["_id"], login.CODE_MAX_ATTEMPTS)
        if counted is None:
            raise Unauthenticated("too many wrong codes; ask for a new code")
        if not login.code_matches(self._login_code_key(), challenge["_id"], code, challenge["digest"]):
            if counted["attempts"] >= login.CODE_MAX_ATTEMPTS:
                self.store.consume("login_codes", challenge["_id"])  # locked: a new code is needed
            raise refused
        if not self.store.consume("login_codes", challenge["_id"]):
            raise refused  # used by a concurrent attempt
        return challenge

    @rpc
    def request_login_code(self, payload: dict[str, Any], client_address: str) -> dict[str, Any]:
        """Send a one-time code to the patient's verified address. Same answer for any INS."""
        request = parse(LoginCodeRequest, payload)
        self._limit_address(client_address)
        self._limit(login.CODES_PER_PATIENT, f"ins:{login.ins_reference(self._login_code_key(), request.ins)}")
        patient = self.store.patient_by_ins(request.ins)
        self._send_code(patient if patient is not None else self._decoy(request.ins), channel=request.channel)
        return LoginCodeSent(expires_in=int(login.CODE_TTL.total_seconds())).model_dump()

    @subscribe("identity", "dossier")
    def send_first_access_code(self, payload: dict[str, Any]) -> None:
        """The patient receives an access code as soon as their dossier opens."""
        event = self.store.received_event(payload)
        if event is None:
            return
        patient = self.store.patient(event.patient_id or "")
        if patient is not None:
            self._send_code(patient, defer=False)

    @rpc
    def login_with_code(self, payload: dict[str, Any], client_address: str) -> dict[str, Any]:
        request = parse(LoginCodeCheck, payload)
        self._limit_address(client_address)
        found = self.store.patient_by_ins(request.ins)
        patient = found if found is not None else self._decoy(request.ins)
        challenge = self._check_code(patient, request.code, "login")  # a decoy is always refused
        channel = challenge.get("channel", "email")
        if not patient.get(f"{CONTACT_FIELDS[channel]}_verified"):
            # The code proved the address works.
            self.store.set_contact(patient["_id"], CONTACT_FIELDS[channel], challenge["address"], self.clock.now())
        actor = Actor(kind=ActorKind.PATIENT, id=patient["_id"], ins=patient["ins"])
        session_id = new_id("ses")
        return self._with_refresh(self._logged_in(actor, "one_time_code", session_id), actor, session_id)

    def _holder(self, token: str, ins: str) -> dict[str, Any]:
        """The patient record, if the token is the holder's own (contact details are theirs alone)."""
        actor = verify(token)
        patient = self.store.patient_by_ins(require_ins(ins))
        if actor.kind is not ActorKind.PATIENT or patient is None or actor.id != patient["_id"]:
            self.store.record_refusal(Event.of(
                EventType.ACCESS_DENIED, self.name, self.clock.now(), actor, outcome=Outcome.DENIED,
                rule="R-HOLDER-ONLY", patient_id=patient["_id"] if patient else None,
                data={"action": "change_contact"}))
            raise AccessDenied.by_rule("R-HOLDER-ONLY", "only the patient changes their contact details")
        return patient

    @rpc
    def request_contact_change(self, token: str, ins: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Send a code to the new address; it replaces the old one only once the code comes back."""
        patient = self._holder(token, ins)
        change = parse(ContactChange, payload)
        self._limit(login.CODES_PER_PATIENT, f"contact:{patient['_id']}")
        channel = "email" if change.email else "sms"
        self._send_code(patient, purpose="contact", channel=channel, address=str(change.email or change.mobile))
        return {"status": "code_sent", "expires_in": int(login.CODE_TTL.total_seconds())}

    @rpc
    def confirm_contact_change(self, token: str, ins: str, payload: dict[str, Any]) -> dict[str, str]:
        patient = self._holder(token, ins)
        challenge = self._check_code(patient, parse(ContactCode, payload).code, "contact")
        field = CONTACT_FIELDS[challenge["channel"]]
        now = self.clock.now()
        changed = Event.of(EventType.CONTACT_CHANGED, self.name, now, verify(token), patient_id=patient["_id"],
                           data={"channel": challenge["channel"]})
        self.store.set_contact(patient["_id"], field, challenge["address"], now, changed)
        if patient.get(field):  # the old address hears of it
            self._tell(patient, "contact_changed", challenge["channel"], patient[field])
        return {"status": "changed"}

    def _with_refresh(self, access: dict[str, Any], actor: Actor, family: str) -> dict[str, Any]:
        now = self.clock.now()
        refresh = login.new_refresh_token()
        self.store.add_refresh({
            "_id": login.refresh_digest(refresh), "family": family, "patient_id": actor.id, "ins": actor.ins,
            "created_at": now, "expires_at": now + login.REFRESH_TTL, "consumed": False,
        })
        return {**access, "refresh_token": refresh, "refresh_expires_in": int(login.REFRESH_TTL.total_seconds())}

    @rpc
    def refresh(self, payload: dict[str, Any], client_address: str) -> dict[str, Any]:
        """A new access token and a new refresh token for a refresh token, which is used up. A used
        token presented again means it was stolen or replayed: the whole session is ended."""
        request = parse(RefreshRequest, payload)
        self._limit_address(client_address)
        record = self.store.refresh_record(login.refresh_digest(request.refresh_token))
        if record is None or record["expires_at"] <= self.clock.now():
            raise Unauthenticated("the session has expired; log in again")
        if not self.store.consume("refresh_tokens", record["_id"]):
            self._end_session(record["family"], None, record["patient_id"], "refresh_replayed")
            raise Unauthenticated("this session was ended; log in again")
        actor = Actor(kind=ActorKind.PATIENT, id=record["patient_id"], ins=record["ins"])
        settings = Settings.from_env()
        token = issue(actor, signing_key_from_env(), settings, self.clock.now(), record["family"])
        access = AccessToken(access_token=token, expires_in=settings.token_ttl_seconds).model_dump()
        return self._with_refresh(access, actor, record["family"])

    @rpc
    def logout(self, token: str, payload: dict[str, Any]) -> dict[str, str]:
        """End the session: its refresh tokens and every access token issued in it stop working at once,
        everywhere."""
        caller = verified(token)
        request = parse(LogoutRequest, payload)
        record = None
        if request.refresh_token:  # a patient's session: its refresh token goes too
            record = self.store.refresh_record(login.refresh_digest(request.refresh_token))
        patient_id = caller.actor.id if caller.actor.kind is ActorKind.PATIENT else None
        if record is not None and record["patient_id"] == caller.actor.id and record["family"] != caller.session_id:
            self._end_session(record["family"], caller.actor, patient_id, "logout")
        self._end_session(caller.session_id, caller.actor, patient_id, "logout")
        return {"status": "logged_out"}

    def _end_session(self, session_id: str, actor: Actor | None, patient_id: str | None, reason: str) -> None:
        self.store.revoke_family(session_id)
        now = self.clock.now()
        settings = Settings.from_env()
        ended = EndedSession(session_id, session_until(now, settings.token_ttl_seconds, CLOCK_SKEW_SECONDS))
        ENDED.end([ended])  # refused here at once; the event tells every other verifier
        self.store.end_session(ended, Event.of(
            EventType.SESSION_ENDED, self.name, now, actor, patient_id=patient_id,
            data={**ended.as_message(), "reason": reason}))

    @rpc(callers=(EVERYONE,))
    def ended_sessions(self) -> list[dict[str, str]]:
        """Every ended session whose access tokens could still be presented (services/common/sessions.py)."""
        return [session.as_message() for session in self.store.ended_sessions(self.clock.now())]

    @rpc(callers=(CLIENTS, OPERATORS))
    def request_card_challenge(self, payload: dict[str, Any], client_address: str) -> dict[str, Any]:
        request = parse(CardChallengeRequest, payload)
        self._limit_address(client_address)
        now = self.clock.now()
        nonce = login.new_nonce()
        self.store.add_nonce({"_id": nonce, "actor_id": request.actor_id, "expires_at": now + login.NONCE_TTL,
                              "consumed": False})
        return CardChallenge(nonce=nonce, expires_in=int(login.NONCE_TTL.total_seconds())).model_dump()

    @rpc(callers=(CLIENTS, OPERATORS))
    def login_with_card(self, payload: dict[str, Any], client_address: str) -> dict[str, Any]:
        request = parse(CardLogin, payload)
        self._limit_address(client_address)
        challenge = self.store.nonce(request.nonce)
        if (challenge is None or challenge["actor_id"] != request.actor_id
                or challenge["expires_at"] <= self.clock.now() or not self.store.consume("card_nonces", request.nonce)):
            raise Unauthenticated("the challenge is unknown, expired or already used; ask for a new one")
        record = self.store.actor_record(request.actor_id)
        if record is None or not record.get("card_public_key"):
            raise Unauthenticated("no card or key is registered for this actor")
        if not login.card_signature_valid(record["card_public_key"], request.nonce, request.signature):
            raise Unauthenticated("the card's signature is not valid")
        return self._logged_in(self._active_actor(record), "card")

    @rpc
    def login_with_external(self, payload: dict[str, Any], client_address: str) -> dict[str, Any]:
        """Exchange an ID token from a trusted external issuer (Pro Santé Connect) for an access token."""
        request = parse(ExternalLogin, payload)
        self._limit_address(client_address)
        professional = self.store.professional(external.rpps_from_id_token(request.id_token, request.nonce))
        if professional is None:
            raise Unauthenticated("the professional named by the ID token is not registered here")
        return self._logged_in(self._active_actor(professional), "external_oidc")

    def _logged_in(self, actor: Actor, method: str, session_id: str | None = None) -> dict[str, Any]:
        settings = Settings.from_env()
        now = self.clock.now()
        event = Event.of(EventType.LOGGED_IN, self.name, now, actor,
                         patient_id=actor.id if actor.kind is ActorKind.PATIENT else None, data={"method": method})
        self.store.record_login(event)
        token = issue(actor, signing_key_from_env(), settings, now, session_id)
        return AccessToken(access_token=token, expires_in=settings.token_ttl_seconds).model_dump()

    @rpc(callers=(OPERATORS,))
    def set_status(self, actor_id: str, status: str) -> dict[str, str]:
        """Operator action (not exposed by the gateway): suspend or reactivate a professional, agent
        or system. A suspended account cannot log in, and consent refuses its tokens still running."""
        if status not in {"active", "suspended"}:
            raise InvalidInput.for_field("status", "must be active or suspended")
        try:
            check_actor_id(actor_id)
        except ValueError as error:
            raise InvalidInput.for_field("actor_id", str(error)) from None
        if self.store.actor_record(actor_id) is None:
            raise NotFound("no such account", [{"field": "actor_id"}])
        now = self.clock.now()
        # The event first: if we die before the status is written, consent refuses (fails safe).
        event = Event.of(EventType.ACCOUNT_STATUS_CHANGED, self.name, now, None,
                         data={"actor_id": actor_id, "status": status, "changed_ms": str(int(now.timestamp() * 1000))})
        self.store.record_account_change(event)
        self.store.set_status(actor_id, status)
        return {"actor_id": actor_id, "status": status}

    @rpc
    def check_patient_identity(self, token: str, payload: dict[str, Any]) -> dict[str, Any]:
        """A professional (or counter agent) checks the patient's identity traits (INS, family name, birth date)
        before anything of the dossier is shown. A mismatch answers exactly like an unknown INS."""
        actor = verify(token)
        if actor.kind not in (ActorKind.PROFESSIONAL, ActorKind.COUNTER_AGENT):
            raise AccessDenied("only a professional or a counter agent checks a patient's identity traits",
                               [{"field": "token"}])
        request = parse(IdentityCheck, payload)
        patient = self.store.patient_by_ins(request.ins)
        if patient is None or not traits.traits_match(patient, request.family_name, request.birth_date):
            raise exceptions.no_patient_with_traits()
        return IdentityChecked(ins=patient["ins"], given_name=patient["given_name"],
                               family_name=patient["family_name"], sex=patient["sex"],
                               birth_date=patient["birth_date"]).model_dump(mode="json")

    # Internal lookups for other services (not exposed by the gateway).

    @rpc(callers=("consent",))
    def patient_id_for(self, ins: str) -> str:
        patient = self.store.patient_by_ins(require_ins(ins))
        if patient is None:
            raise exceptions.unknown_patient()
        return str(patient["_id"])

    @rpc(callers=("consent", "notify"))
    def professional_contact(self, professional_id: str) -> dict[str, str]:
        """Where to remind a professional about their documents (empty when none is on file), and their
        profession (empty for an unknown professional: consent checks a declared médecin traitant with it)."""
        record = self.store.actor_record(professional_id) if professional_id.startswith("rpps:") else None
        return {"email": (record or {}).get("email") or "", "language": "fr",
                "profession": str((record or {}).get("profession") or "")}

    @rpc(callers=("notify",))
    def contact_of(self, patient_id: str) -> dict[str, str]:
        """Where to tell a patient about their dossier: used by notify only."""
        patient = self.store.patient(patient_id)
        if patient is None:
            raise exceptions.NotFound("no such patient")
        return {"email": patient["email"], "mobile": patient.get("mobile") or "",
                "language": patient.get("language", "fr")}
