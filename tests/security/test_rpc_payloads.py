"""hypothesis on every payload schema that crosses the bus, and on the RPCs that take them.

Whatever a caller sends, the answer is the model or an InvalidInput naming each field with a reason
(never echoing the input, which may be personal data); over the real broker, every RPC taking a
payload answers generated payloads with a result or one of our errors, never an unexpected exception
(what the gateway would turn into a 500)."""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from services.audit import schemas as audit_schemas
from services.audit.schemas import HistoryQuery
from services.common import schemas
from services.common.errors import DmpError, InvalidInput, ServiceUnavailable
from services.common.sealing import seal_json
from services.common.settings import Secret, Settings
from services.common.validation import parse
from services.consent import schemas as consent_schemas
from services.consent.schemas import (
    Authorisation,
    BreakGlass,
    CareTeamMembership,
    DocumentFacts,
    EmergencyOppositions,
    MedecinTraitantDeclaration,
    ProfessionalRef,
)
from services.dossier import schemas as dossier_schemas
from services.dossier.schemas import (
    DocumentSearch,
    DocumentSubmission,
    DossierOpening,
    PersonalSpaceUpdate,
    ReimbursementSearch,
    VisibilityChange,
)
from services.identity import schemas as identity_schemas
from services.identity.schemas import (
    AgentRegistration,
    CardChallengeRequest,
    CardLogin,
    ContactChange,
    ContactCode,
    DevTokenRequest,
    ExternalLogin,
    LoginCodeCheck,
    LoginCodeRequest,
    PatientRegistration,
    ProfessionalRegistration,
    RefreshRequest,
    Representation,
    SystemRegistration,
)
from services.notify import schemas as notify_schemas
from services.notify.schemas import IDENTITY_MESSAGE, IdentityMessage, NotificationPreferences
from tests.identities import make_ins, make_rpps
from tests.journeys import Deposit

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            "10",
            "2026-11-23",
            "2026-02-30",
            "180017512345660",
            "rpps:10000000009",
            "x" * 300,
            "é\u0000\u202e",
            "INVISIBLE_PATIENT",
            "MASQUE_PS",
            "email",
            "sms",
            "fr",
            "application/pdf",
            "JVBERi0xLjQ=",
            "patient",
            "professional",
        ]
    ),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
# Each service's contracts, and the shared ones they are made of.
CONTRACTS = (
    schemas,
    audit_schemas,
    consent_schemas,
    dossier_schemas,
    identity_schemas,
    notify_schemas,
)
INPUT_MODELS = sorted(
    (
        model
        for module in CONTRACTS
        for _, model in inspect.getmembers(module, inspect.isclass)
        if issubclass(model, schemas.Strict)
        and model is not schemas.Strict
        and model.__module__ == module.__name__  # once, where it is defined
    ),
    key=lambda model: model.__name__,
)


def payloads(model: type[BaseModel]) -> st.SearchStrategy[Any]:
    """Objects with the model's own field names (so validation goes deep), extra keys, or anything at all."""
    fields = {name: JSON for name in model.model_fields}
    shaped = st.fixed_dictionaries({}, optional=fields)
    with_extra = st.builds(
        lambda a, b: {**a, **b}, shaped, st.dictionaries(st.text(max_size=8), JSON, max_size=2)
    )
    return st.one_of(shaped, with_extra, JSON)


@pytest.mark.parametrize("model", INPUT_MODELS, ids=lambda model: model.__name__)
def test_any_payload_gives_the_model_or_an_error_naming_each_field(model: type[BaseModel]) -> None:
    schema_text = json.dumps(model.model_json_schema(), ensure_ascii=False)

    @settings(max_examples=25, deadline=None, database=None)  # 47 models: 1,175 payloads a run
    @given(payload=payloads(model))
    def check(payload: Any) -> None:
        try:
            parsed = parse(model, payload)
        except InvalidInput as error:
            assert error.details and all(d["field"] and d["reason"] for d in error.details)
            for detail in (
                error.details
            ):  # the reason never repeats what was sent (the schema's own words aside)
                for value in _strings(payload):
                    if len(value) >= 8 and value not in schema_text:
                        assert value not in detail["reason"]
            return
        assert isinstance(parsed, model)

    check()


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def rpc_calls(
    deposit: Deposit,
) -> dict[str, tuple[type[BaseModel] | None, Callable[[Any, Any], Any]]]:
    """Every RPC that takes a payload: (its schema, how to call it with a generated payload)."""
    p, d, ins, doc = deposit.patient, deposit.doctor, deposit.ins, deposit.document_id
    return {
        "identity.register_patient": (
            PatientRegistration,
            lambda c, x: c.identity.register_patient(x),
        ),
        "identity.register_professional": (
            ProfessionalRegistration,
            lambda c, x: c.identity.register_professional(x),
        ),
        "identity.register_agent": (
            AgentRegistration,
            lambda c, x: c.identity.register_agent(x),
        ),
        "identity.register_system": (
            SystemRegistration,
            lambda c, x: c.identity.register_system(x),
        ),
        "identity.add_representative": (
            Representation,
            lambda c, x: c.identity.add_representative(ins, x),
        ),
        "identity.issue_dev_token": (
            DevTokenRequest,
            lambda c, x: c.identity.issue_dev_token(x),
        ),
        "identity.request_login_code": (
            LoginCodeRequest,
            lambda c, x: c.identity.request_login_code(x, "10.9.8.7"),
        ),
        "identity.login_with_code": (
            LoginCodeCheck,
            lambda c, x: c.identity.login_with_code(x, "10.9.8.6"),
        ),
        "identity.request_contact_change": (
            ContactChange,
            lambda c, x: c.identity.request_contact_change(p, ins, x),
        ),
        "identity.confirm_contact_change": (
            ContactCode,
            lambda c, x: c.identity.confirm_contact_change(p, ins, x),
        ),
        "identity.refresh": (
            RefreshRequest,
            lambda c, x: c.identity.refresh(x, "10.9.8.5"),
        ),
        "identity.logout": (RefreshRequest, lambda c, x: c.identity.logout(p, x)),
        "identity.request_card_challenge": (
            CardChallengeRequest,
            lambda c, x: c.identity.request_card_challenge(x, "10.9.8.4"),
        ),
        "identity.login_with_card": (
            CardLogin,
            lambda c, x: c.identity.login_with_card(x, "10.9.8.3"),
        ),
        "identity.login_with_external": (
            ExternalLogin,
            lambda c, x: c.identity.login_with_external(x, "10.9.8.2"),
        ),
        "consent.record_consent": (
            Authorisation,
            lambda c, x: c.consent.record_consent(d, ins, x),
        ),
        "consent.join_care_team": (
            CareTeamMembership,
            lambda c, x: c.consent.join_care_team(d, ins, x),
        ),
        "consent.declare_medecin_traitant": (
            MedecinTraitantDeclaration,
            lambda c, x: c.consent.declare_medecin_traitant(d, ins, x),
        ),
        "consent.confirm_medecin_traitant": (
            ProfessionalRef,
            lambda c, x: c.consent.confirm_medecin_traitant(p, ins, x),
        ),
        "consent.break_glass": (BreakGlass, lambda c, x: c.consent.break_glass(d, ins, x)),
        "consent.decide": (DocumentFacts, lambda c, x: c.consent.decide(d, ins, "read", x)),
        "consent.withdraw_consent": (
            ProfessionalRef,
            lambda c, x: c.consent.withdraw_consent(p, ins, x),
        ),
        "consent.object_to_care_team": (
            ProfessionalRef,
            lambda c, x: c.consent.object_to_care_team(p, ins, x),
        ),
        "consent.block": (ProfessionalRef, lambda c, x: c.consent.block(p, ins, x)),
        "consent.set_emergency_oppositions": (
            EmergencyOppositions,
            lambda c, x: c.consent.set_emergency_oppositions(p, ins, x),
        ),
        "consent.authorise_occupational_doctor": (
            ProfessionalRef,
            lambda c, x: c.consent.authorise_occupational_doctor(p, ins, x),
        ),
        "dossier.open": (DossierOpening, lambda c, x: c.dossier.open(d, x)),
        "dossier.add_document": (
            DocumentSubmission,
            lambda c, x: c.dossier.add_document(d, ins, x),
        ),
        "dossier.replace_document": (
            DocumentSubmission,
            lambda c, x: c.dossier.replace_document(d, ins, doc, x),
        ),
        "dossier.set_visibility": (
            VisibilityChange,
            lambda c, x: c.dossier.set_visibility(p, ins, doc, x),
        ),
        "dossier.search": (DocumentSearch, lambda c, x: c.dossier.search(d, ins, x)),
        "dossier.update_personal_space": (
            PersonalSpaceUpdate,
            lambda c, x: c.dossier.update_personal_space(p, ins, x),
        ),
        "dossier.add_reimbursements": (None, lambda c, x: c.dossier.add_reimbursements(d, x)),
        "dossier.reimbursements": (
            ReimbursementSearch,
            lambda c, x: c.dossier.reimbursements(p, ins, x),
        ),
        # sealed as identity seals it: the fuzz reaches what notify does with the message it opens
        "notify.deliver_identity_message": (
            IdentityMessage,
            lambda c, x: c.notify.deliver_identity_message(
                {
                    "sealed": seal_json(
                        Settings.load().key(Secret.IDENTITY_MESSAGE_KEY),
                        x,
                        IDENTITY_MESSAGE,
                    )
                }
            ),
        ),
        "notify.set_preferences": (
            NotificationPreferences,
            lambda c, x: c.notify.set_preferences(p, ins, x),
        ),
        "audit.history": (HistoryQuery, lambda c, x: c.audit.history(p, ins, x)),
    }


def fuzz(
    cluster: Any,
    deposit: Deposit,
    name: str,
    model: type[BaseModel] | None,
    call: Callable[[Any, Any], Any],
) -> int:
    """Call one RPC with generated payloads; how many were tried."""
    tried = 0
    ids = st.sampled_from([make_ins(), make_rpps(), deposit.ins, "rpps:" + deposit.doctor_rpps])

    @settings(
        max_examples=20, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(
        payload=st.one_of(
            payloads(model) if model else JSON,
            st.builds(lambda i: {"ins": i, "professional_id": i}, ids),
        )
    )
    def check(payload: Any) -> None:
        nonlocal tried
        tried += 1
        try:
            call(cluster, payload)
        except ServiceUnavailable as error:
            raise AssertionError(f"{name}: the store answered, yet: {error}") from error
        except DmpError:
            pass  # one of our answers: invalid input, refused, not found, conflict, too many

    check()
    return tried


def test_every_rpc_answers_generated_payloads_with_a_result_or_one_of_our_errors(
    cluster: Any,
    deposit: Deposit,
) -> None:
    calls = rpc_calls(deposit)
    tried = sum(fuzz(cluster, deposit, name, model, call) for name, (model, call) in calls.items())
    print(
        f"\n{tried} generated payloads over {len(calls)} RPCs: each answered a result or one of our errors"
    )
    assert tried >= 20 * len(calls)
