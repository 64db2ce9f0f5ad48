"""identity: patients, professionals and their access tokens."""

from __future__ import annotations

from collections.abc import Callable

from services.common.actors import Actor, ActorKind
from services.common.after_reply import AfterReply
from services.common.clock import Clock
from services.common.entrypoints import rpc
from services.common.errors import (
    AccessDenied,
    Conflict,
    InvalidInput,
    NotFound,
    TooManyRequests,
    Unauthenticated,
)
from services.common.events import Event, EventType, Outcome
from services.common.health import HealthMixin
from services.common.identifiers import check_actor_id, demographics_mismatch, require_ins
from services.common.ids import new_id
from services.common.principals import CLIENTS, EVERYONE, OPERATORS
from services.common.rpc_client import ServiceRpc, call_async
from services.common.sealing import seal_json
from services.common.sessions import ENDED, EndedSession, session_until
from services.common.settings import Secret, Settings
from services.common.settings_provider import SettingsProvider
from services.common.store import StoreProvider
from services.common.subscriptions import subscribe
from services.common.tokens import CLOCK_SKEW_SECONDS, issue, verified, verify
from services.identity import enrolment, exceptions, external, login, rules, traits
from services.identity.records import (
    Account,
    AccountStatus,
    CardNonce,
    Channel,
    Decoy,
    LegalRepresentation,
    LoginCode,
    Patient,
    Purpose,
    RefreshToken,
)
from services.identity.schemas import (
    AccessToken,
    AgentRegistration,
    CardChallenge,
    CardChallengeRequest,
    CardLogin,
    ContactChange,
    ContactCode,
    ContactCodeSent,
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
from services.identity.store import IdentityRecords, IdentityStore, status_change
from services.notify.client import NotifyClient
from services.notify.schemas import IDENTITY_MESSAGE


class IdentityService(HealthMixin):
    name = "identity"

    settings: Settings = SettingsProvider(
        needs=(
            Secret.TOKEN_SIGNING_KEY,
            Secret.TOKEN_PUBLIC_KEYS,
            Secret.LOGIN_CODE_KEY,
            Secret.IDENTITY_MESSAGE_KEY,
            Secret.BUS_PUBLIC_KEYS,
        )
    )
    store: IdentityRecords = StoreProvider(IdentityStore)
    notify: NotifyClient = ServiceRpc("notify")
    later: Callable[[Callable[[], object]], None] = AfterReply()
    clock: Clock = Clock()

    def _require_dev_login(self) -> Settings:
        settings = self.settings
        if not settings.dev_login:
            raise exceptions.dev_login_disabled()
        return settings

    @rpc(callers=("gateway", OPERATORS))
    def register_patient(self, payload: PatientRegistration) -> dict[str, str]:
        """Development enrolment of a patient (the INSi teleservice replaces it: issue 4)."""
        self._require_dev_login()
        problems = demographics_mismatch(payload.ins, payload.sex, payload.birth_date)
        if problems:
            raise InvalidInput(InvalidInput.summary(problems), problems)
        now = self.clock.now()
        patient_id = new_id("pat")
        event = Event.of(EventType.PATIENT_REGISTERED, self.name, now, None, patient_id=patient_id)
        if not self.store.add_patient(enrolment.patient(payload, patient_id, now), event):
            raise exceptions.patient_exists()
        return {"patient_id": patient_id}

    @rpc(callers=("gateway", OPERATORS))
    def register_professional(self, payload: ProfessionalRegistration) -> dict[str, str]:
        """Development enrolment of a professional (the RPPS directory replaces it: issue 4)."""
        self._require_dev_login()
        professional = enrolment.professional(payload, self.clock.now())
        self._register(
            professional, EventType.PROFESSIONAL_REGISTERED, exceptions.professional_exists()
        )
        return {"professional_id": professional.id}

    @rpc(callers=("gateway", OPERATORS))
    def register_agent(self, payload: AgentRegistration) -> dict[str, str]:
        """Development enrolment of an Assurance Maladie counter agent (with their card's key)."""
        self._require_dev_login()
        return self._register(
            enrolment.agent(payload, self.clock.now()),
            EventType.AGENT_REGISTERED,
            Conflict("this agent id is already registered"),
        )

    @rpc(callers=("gateway", OPERATORS))
    def register_system(self, payload: SystemRegistration) -> dict[str, str]:
        """Development enrolment of a system client (e.g. the reimbursement feed) and its key."""
        self._require_dev_login()
        return self._register(
            enrolment.system(payload, self.clock.now()),
            EventType.SYSTEM_REGISTERED,
            Conflict("this client id is already registered"),
        )

    def _register(self, account: Account, kind: EventType, taken: Conflict) -> dict[str, str]:
        event = Event.of(
            kind, self.name, account.registered_at, None, data={"actor_id": account.id}
        )
        if not self.store.add_account(account, event):
            raise taken
        return {"actor_id": account.id}

    @rpc(callers=("gateway", OPERATORS))
    def add_representative(self, minor_ins: str, payload: Representation) -> dict[str, str]:
        """Record that an adult is the legal representative of a minor (development enrolment: in
        production this is established at a counter, with proof)."""
        self._require_dev_login()
        minor = self.store.patient_by_ins(require_ins(minor_ins))
        representative = self.store.patient_by_ins(payload.representative_ins)
        if minor is None or representative is None:
            raise exceptions.unknown_patient()
        rules.check_representation(minor, representative, self.clock.now().date())
        now = self.clock.now()
        event = Event.of(
            EventType.REPRESENTATIVE_ADDED,
            self.name,
            now,
            None,
            patient_id=minor.id,
            data={"representative_id": representative.id},
        )
        self.store.add_representation(LegalRepresentation(representative.id, minor.id, now), event)
        return {"minor_id": minor.id, "representative_id": representative.id}

    @rpc(callers=("consent",))
    def represented_birth_date(self, representative_id: str, minor_id: str) -> str | None:
        """The minor's birth date if this patient represents them (consent decides what follows)."""
        if self.store.representation(representative_id, minor_id) is None:
            return None
        minor = self.store.patient(minor_id)
        return minor.birth_date.isoformat() if minor else None

    @rpc(callers=("gateway", OPERATORS))
    def issue_dev_token(self, payload: DevTokenRequest) -> AccessToken:
        """A signed token for a registered actor, without a login ceremony (development only)."""
        settings = self._require_dev_login()
        actor = self._actor_for(payload)
        token = issue(
            actor, self.settings.signing_key(Secret.TOKEN_SIGNING_KEY), settings, self.clock.now()
        )
        return AccessToken(access_token=token, expires_in=settings.token_ttl_seconds)

    def _actor_for(self, request: DevTokenRequest) -> Actor:
        if request.kind == "patient":
            if request.ins is None:
                raise InvalidInput.for_field("ins", "is required for a patient token")
            patient = self.store.patient_by_ins(request.ins)
            if patient is None:
                raise exceptions.unknown_patient()
            return Actor(kind=ActorKind.PATIENT, id=patient.id, ins=patient.ins)
        if request.rpps is None:
            raise InvalidInput.for_field("rpps", "is required for a professional token")
        professional = self.store.professional(request.rpps)
        if professional is None:
            raise exceptions.unknown_professional()
        return rules.actor_of(professional)

    # Login

    def _login_code_key(self) -> bytes:
        return self.settings.key(Secret.LOGIN_CODE_KEY)

    def _limit(self, limit: login.RateLimit, key: str) -> None:
        now = self.clock.now()
        if limit.exceeded(self.store.count(limit.bucket(key, now))):
            raise TooManyRequests.retry_in(limit.retry_after(now))

    def _limit_address(self, client_address: str) -> None:
        limit = login.logins_per_address(self.settings.login_rate_per_address)
        self._limit(limit, f"address:{client_address}")

    def _decoy(self, ins: str) -> Decoy:
        """Keyed by the INS's reference, so that none of the requests tells whether the INS is registered."""
        return Decoy(f"decoy:{login.ins_reference(self._login_code_key(), ins)}")

    def _send_code(
        self,
        subject: Patient | Decoy,
        purpose: Purpose = Purpose.LOGIN,
        channel: Channel = Channel.EMAIL,
        address: str | None = None,
        defer: bool = True,
    ) -> None:
        """Create a code and have notify deliver it (once the answer has left, when `defer`), unless one
        was sent moments ago. A login code goes to the patient's own email or mobile; a contact code to
        the new address it verifies. A decoy subject gets a code that nobody receives, made the same way."""
        if isinstance(subject, Patient):
            address = address or subject.address(channel)
            if address is None:
                subject = self._decoy(subject.ins)
        now = self.clock.now()
        if login.resend_throttled(self.store.latest_code(subject.id, purpose), address, now):
            return  # the code sent moments ago is still valid
        challenge_id = new_id("otp")
        code = login.new_code()
        self.store.add_code(
            LoginCode(
                id=challenge_id,
                subject_id=subject.id,
                purpose=purpose,
                channel=channel,
                address=address,
                created_at=now,
                expires_at=now + login.CODE_TTL,
                attempts=0,
                consumed=False,
                digest=login.code_digest(self._login_code_key(), challenge_id, code),
            )
        )
        if isinstance(subject, Patient) and address is not None:
            self._tell(
                subject,
                f"{purpose.value}_code",
                channel,
                address,
                defer,
                code=code,
                valid_minutes=int(login.CODE_TTL.total_seconds() // 60),
            )

    def _tell(
        self,
        patient: Patient,
        kind: str,
        channel: Channel,
        to: str,
        defer: bool = True,
        **fields: str | int,
    ) -> None:
        """Have notify deliver a message: once this call's answer has left when `defer` (a caller must
        not be able to time it), else now (an event's work, acknowledged only once the message is out)."""
        plain = {
            "channel": channel.value,
            "to": to,
            "kind": kind,
            "language": patient.language,
            **fields,
        }
        message = {
            "sealed": seal_json(
                self.settings.key(Secret.IDENTITY_MESSAGE_KEY), plain, IDENTITY_MESSAGE
            )
        }
        if defer:
            self.later(lambda: call_async(self.notify.deliver_identity_message, message))
        else:
            call_async(self.notify.deliver_identity_message, message)

    def _check_code(
        self, subject: Patient | Decoy, code: str, purpose: Purpose
    ) -> tuple[Patient, Channel, str]:
        """The patient, and where the code a right code answers was sent (it is used up); Unauthenticated
        otherwise (5 attempts at most). Each refusal is traced (login_failed): in a known patient's trail,
        else in the system's, so that a brute force shows and both cases do the same work. A decoy's code
        (sent nowhere) never logs anyone in."""
        try:
            challenge = self._match_code(subject, code, purpose)
            if isinstance(subject, Decoy) or challenge.address is None:
                raise Unauthenticated("the code is wrong or has expired; ask for a new code")
            return subject, challenge.channel, challenge.address
        except Unauthenticated as refusal:
            event = Event.of(
                EventType.LOGIN_FAILED,
                self.name,
                self.clock.now(),
                None,
                patient_id=subject.id if isinstance(subject, Patient) else None,
                outcome=Outcome.DENIED,
                rule="R-LOGIN-CODE",
                data={"method": "one_time_code", "purpose": purpose.value},
            )
            self.store.record_login(event)
            raise refusal from None

    def _match_code(self, subject: Patient | Decoy, code: str, purpose: Purpose) -> LoginCode:
        refused = Unauthenticated("the code is wrong or has expired; ask for a new code")
        challenge = self.store.latest_code(subject.id, purpose)
        if challenge is None or not login.code_open(challenge, self.clock.now()):
            raise refused
        counted = self.store.count_attempt(challenge.id, login.CODE_MAX_ATTEMPTS)
        if counted is None:
            raise Unauthenticated("too many wrong codes; ask for a new code")
        if not login.code_matches(self._login_code_key(), challenge.id, code, challenge.digest):
            if login.locks(counted.attempts):
                self.store.consume_code(challenge.id)
            raise refused
        if not self.store.consume_code(challenge.id):
            raise refused  # used by a concurrent attempt
        return challenge

    @rpc
    def request_login_code(self, payload: LoginCodeRequest, client_address: str) -> LoginCodeSent:
        """Send a one-time code to the patient's verified address. Same answer for any INS."""
        self._limit_address(client_address)
        self._limit(
            login.CODES_PER_PATIENT,
            f"ins:{login.ins_reference(self._login_code_key(), payload.ins)}",
        )
        patient = self.store.patient_by_ins(payload.ins)
        self._send_code(
            patient if patient is not None else self._decoy(payload.ins),
            channel=Channel(payload.channel),
        )
        return LoginCodeSent(expires_in=int(login.CODE_TTL.total_seconds()))

    @subscribe("identity", "dossier")
    def send_first_access_code(self, payload: object) -> None:  # validated by received_event
        """The patient receives an access code as soon as their dossier opens."""
        event = self.store.received_event(payload)
        if event is None:
            return
        patient = self.store.patient(event.patient_id or "")
        if patient is not None:
            self._send_code(patient, defer=False)

    @rpc
    def login_with_code(self, payload: LoginCodeCheck, client_address: str) -> AccessToken:
        self._limit_address(client_address)
        found = self.store.patient_by_ins(payload.ins)
        subject = found if found is not None else self._decoy(payload.ins)
        patient, channel, address = self._check_code(
            subject, payload.code, Purpose.LOGIN
        )  # a decoy is refused
        if not patient.verified(channel):
            # The code proved the address works.
            self.store.set_contact(patient.id, channel, address, self.clock.now())
        actor = Actor(kind=ActorKind.PATIENT, id=patient.id, ins=patient.ins)
        session_id = new_id("ses")
        return self._with_refresh(
            self._logged_in(actor, "one_time_code", session_id), patient.id, patient.ins, session_id
        )

    def _holder(self, token: str, ins: str) -> Patient:
        """The patient record, if the token is the holder's own (contact details are theirs alone)."""
        actor = verify(token, self.settings)
        patient = self.store.patient_by_ins(require_ins(ins))
        if actor.kind is not ActorKind.PATIENT or patient is None or actor.id != patient.id:
            self.store.record_refusal(
                Event.of(
                    EventType.ACCESS_DENIED,
                    self.name,
                    self.clock.now(),
                    actor,
                    outcome=Outcome.DENIED,
                    rule="R-HOLDER-ONLY",
                    patient_id=patient.id if patient else None,
                    data={"action": "change_contact"},
                )
            )
            raise AccessDenied.by_rule(
                "R-HOLDER-ONLY", "only the patient changes their contact details"
            )
        return patient

    @rpc
    def request_contact_change(
        self, token: str, ins: str, payload: ContactChange
    ) -> ContactCodeSent:
        """Send a code to the new address; it replaces the old one only once the code comes back."""
        patient = self._holder(token, ins)
        self._limit(login.CODES_PER_PATIENT, f"contact:{patient.id}")
        channel = Channel.EMAIL if payload.email else Channel.SMS
        self._send_code(
            patient,
            purpose=Purpose.CONTACT,
            channel=channel,
            address=str(payload.email or payload.mobile),
        )
        return ContactCodeSent(expires_in=int(login.CODE_TTL.total_seconds()))

    @rpc
    def confirm_contact_change(self, token: str, ins: str, payload: ContactCode) -> dict[str, str]:
        patient = self._holder(token, ins)
        patient, channel, address = self._check_code(patient, payload.code, Purpose.CONTACT)
        now = self.clock.now()
        changed = Event.of(
            EventType.CONTACT_CHANGED,
            self.name,
            now,
            verify(token, self.settings),
            patient_id=patient.id,
            data={"channel": channel.value},
        )
        self.store.set_contact(patient.id, channel, address, now, changed)
        previous = patient.address(channel)
        if previous:  # the old address hears of it
            self._tell(patient, "contact_changed", channel, previous)
        return {"status": "changed"}

    def _with_refresh(
        self, access: AccessToken, patient_id: str, ins: str, family: str
    ) -> AccessToken:
        now = self.clock.now()
        refresh = login.new_refresh_token()
        self.store.add_refresh(
            RefreshToken(
                digest=login.refresh_digest(refresh),
                family=family,
                patient_id=patient_id,
                ins=ins,
                created_at=now,
                expires_at=now + login.REFRESH_TTL,
                consumed=False,
            )
        )
        return access.model_copy(
            update={
                "refresh_token": refresh,
                "refresh_expires_in": int(login.REFRESH_TTL.total_seconds()),
            }
        )

    @rpc
    def refresh(self, payload: RefreshRequest, client_address: str) -> AccessToken:
        """A new access token and a new refresh token for a refresh token, which is used up. A used
        token presented again means it was stolen or replayed: the whole session is ended."""
        self._limit_address(client_address)
        presented = self.store.refresh_token(login.refresh_digest(payload.refresh_token))
        if presented is None or not login.refresh_open(presented, self.clock.now()):
            raise Unauthenticated("the session has expired; log in again")
        if not self.store.consume_refresh(presented.digest):
            self._end_session(presented.family, None, presented.patient_id, "refresh_replayed")
            raise Unauthenticated("this session was ended; log in again")
        actor = Actor(kind=ActorKind.PATIENT, id=presented.patient_id, ins=presented.ins)
        settings = self.settings
        token = issue(
            actor,
            self.settings.signing_key(Secret.TOKEN_SIGNING_KEY),
            settings,
            self.clock.now(),
            presented.family,
        )
        access = AccessToken(access_token=token, expires_in=settings.token_ttl_seconds)
        return self._with_refresh(access, presented.patient_id, presented.ins, presented.family)

    @rpc
    def logout(self, token: str, payload: LogoutRequest) -> dict[str, str]:
        """End the session: its refresh tokens and every access token issued in it stop working at once,
        everywhere."""
        caller = verified(token, self.settings)
        presented = None
        if payload.refresh_token:  # a patient's session: its refresh token goes too
            presented = self.store.refresh_token(login.refresh_digest(payload.refresh_token))
        patient_id = caller.actor.id if caller.actor.kind is ActorKind.PATIENT else None
        if presented is not None and login.ends_with_logout(
            presented, caller.actor.id, caller.session_id
        ):
            self._end_session(presented.family, caller.actor, patient_id, "logout")
        self._end_session(caller.session_id, caller.actor, patient_id, "logout")
        return {"status": "logged_out"}

    def _end_session(
        self, session_id: str, actor: Actor | None, patient_id: str | None, reason: str
    ) -> None:
        self.store.revoke_family(session_id)
        now = self.clock.now()
        settings = self.settings
        ended = EndedSession(
            session_id, session_until(now, settings.token_ttl_seconds, CLOCK_SKEW_SECONDS)
        )
        ENDED.end([ended])  # refused here at once; the event tells every other verifier
        self.store.end_session(
            ended,
            Event.of(
                EventType.SESSION_ENDED,
                self.name,
                now,
                actor,
                patient_id=patient_id,
                data={**ended.as_message(), "reason": reason},
            ),
        )

    @rpc(callers=(EVERYONE,))
    def ended_sessions(self) -> list[dict[str, str]]:
        """Every ended session whose access tokens could still be presented (services/common/sessions.py)."""
        return [session.as_message() for session in self.store.ended_sessions(self.clock.now())]

    @rpc(callers=(CLIENTS, OPERATORS))
    def request_card_challenge(
        self, payload: CardChallengeRequest, client_address: str
    ) -> CardChallenge:
        self._limit_address(client_address)
        now = self.clock.now()
        nonce = login.new_nonce()
        self.store.add_nonce(
            CardNonce(nonce, payload.actor_id, now + login.NONCE_TTL, consumed=False)
        )
        return CardChallenge(nonce=nonce, expires_in=int(login.NONCE_TTL.total_seconds()))

    @rpc(callers=(CLIENTS, OPERATORS))
    def login_with_card(self, payload: CardLogin, client_address: str) -> AccessToken:
        self._limit_address(client_address)
        challenge = self.store.nonce(payload.nonce)
        if not login.nonce_open(
            challenge, payload.actor_id, self.clock.now()
        ) or not self.store.consume_nonce(payload.nonce):
            raise Unauthenticated(
                "the challenge is unknown, expired or already used; ask for a new one"
            )
        account = self.store.account(payload.actor_id)
        if account is None or not account.card_public_key:
            raise Unauthenticated("no card or key is registered for this actor")
        if not login.card_signature_valid(
            account.card_public_key, payload.nonce, payload.signature
        ):
            raise Unauthenticated("the card's signature is not valid")
        return self._logged_in(rules.actor_of(account), "card")

    @rpc
    def login_with_external(self, payload: ExternalLogin, client_address: str) -> AccessToken:
        """Exchange an ID token from a trusted external issuer (Pro Santé Connect) for an access token."""
        self._limit_address(client_address)
        professional = self.store.professional(
            external.rpps_from_id_token(
                self.settings.trusted_issuers, payload.id_token, payload.nonce
            )
        )
        if professional is None:
            raise Unauthenticated("the professional named by the ID token is not registered here")
        return self._logged_in(rules.actor_of(professional), "external_oidc")

    def _logged_in(self, actor: Actor, method: str, session_id: str | None = None) -> AccessToken:
        settings = self.settings
        now = self.clock.now()
        event = Event.of(
            EventType.LOGGED_IN,
            self.name,
            now,
            actor,
            patient_id=actor.id if actor.kind is ActorKind.PATIENT else None,
            data={"method": method},
        )
        self.store.record_login(event)
        token = issue(
            actor, self.settings.signing_key(Secret.TOKEN_SIGNING_KEY), settings, now, session_id
        )
        return AccessToken(access_token=token, expires_in=settings.token_ttl_seconds)

    @rpc(callers=(OPERATORS,))
    def set_status(self, actor_id: str, status: str) -> dict[str, str]:
        """Operator action (not exposed by the gateway): suspend or reactivate a professional, agent
        or system. A suspended account cannot log in, and consent refuses its tokens still running."""
        try:
            new_status = AccountStatus(status)
        except ValueError:
            raise InvalidInput.for_field("status", "must be active or suspended") from None
        try:
            check_actor_id(actor_id)
        except ValueError as error:
            raise InvalidInput.for_field("actor_id", str(error)) from None
        if self.store.account(actor_id) is None:
            raise NotFound("no such account", [{"field": "actor_id"}])
        now = self.clock.now()
        # The event first: if we die before the status is written, consent refuses (fails safe).
        event = Event.of(
            EventType.ACCOUNT_STATUS_CHANGED,
            self.name,
            now,
            None,
            data=status_change(actor_id, new_status, now),
        )
        self.store.record_account_change(event)
        self.store.set_status(actor_id, new_status)
        return {"actor_id": actor_id, "status": new_status.value}

    @rpc
    def check_patient_identity(self, token: str, payload: IdentityCheck) -> IdentityChecked:
        """A professional (or counter agent) checks the patient's identity traits (INS, family name, birth date)
        before anything of the dossier is shown. A mismatch answers exactly like an unknown INS."""
        actor = verify(token, self.settings)
        if actor.kind not in (ActorKind.PROFESSIONAL, ActorKind.COUNTER_AGENT):
            raise AccessDenied(
                "only a professional or a counter agent checks a patient's identity traits",
                [{"field": "token"}],
            )
        patient = self.store.patient_by_ins(payload.ins)
        if patient is None or not traits.traits_match(
            patient, payload.family_name, payload.birth_date
        ):
            raise exceptions.no_patient_with_traits()
        return IdentityChecked(
            patient_id=patient.id,
            ins=patient.ins,
            given_name=patient.given_name,
            family_name=patient.family_name,
            sex=patient.sex,
            birth_date=patient.birth_date,
        )

    # Internal lookups for other services (not exposed by the gateway).

    @rpc(callers=("consent",))
    def patient_id_for(self, ins: str) -> str:
        patient = self.store.patient_by_ins(require_ins(ins))
        if patient is None:
            raise exceptions.unknown_patient()
        return patient.id

    @rpc(callers=("consent", "notify"))
    def professional_contact(self, professional_id: str) -> dict[str, str]:
        """Where to remind a professional about their documents (empty when none is on file), and their
        profession (empty for an unknown professional: consent checks a declared médecin traitant with it)."""
        professional = (
            self.store.professional(professional_id.removeprefix("rpps:"))
            if professional_id.startswith("rpps:")
            else None
        )
        return {
            "email": (professional.email or "") if professional else "",
            "language": "fr",
            "profession": professional.profession if professional else "",
        }

    @rpc(callers=("notify",))
    def contact_of(self, patient_id: str) -> dict[str, str]:
        """Where to tell a patient about their dossier: used by notify only."""
        patient = self.store.patient(patient_id)
        if patient is None:
            raise exceptions.NotFound("no such patient")
        return {
            "email": patient.email,
            "mobile": patient.mobile or "",
            "language": patient.language,
        }
