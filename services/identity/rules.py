"""Account rules without I/O: who an account logs in as, who may represent whom."""

from __future__ import annotations

from datetime import date

from services.common.actors import Actor, ActorKind
from services.common.errors import AccessDenied, Conflict, InvalidInput
from services.common.majority import is_minor
from services.identity.records import Account, AccountStatus, CounterAgent, Patient, SystemClient


def actor_of(account: Account) -> Actor:
    """The actor a professional, agent or system account speaks for, unless it is suspended."""
    if account.status is not AccountStatus.ACTIVE:
        raise AccessDenied.by_rule("R-SUSPENDED", "this account is suspended and may not log in")
    if isinstance(account, CounterAgent):
        return Actor(kind=ActorKind.COUNTER_AGENT, id=account.id, organisation=account.organisation)
    if isinstance(account, SystemClient):
        return Actor(kind=ActorKind.SYSTEM, id=account.id)
    return Actor(
        kind=ActorKind.PROFESSIONAL,
        id=account.id,
        rpps=account.rpps,
        profession=account.profession,
        organisation=account.organisation,
        roles=account.roles,
        given_name=account.given_name,
        family_name=account.family_name,
    )


def check_representation(minor: Patient, representative: Patient, today: date) -> None:
    """A legal representative is an adult, of a minor (the right ends at the 18th birthday: consent)."""
    if not is_minor(minor.birth_date, today):
        raise Conflict("the represented patient is not a minor", [{"field": "ins"}])
    if is_minor(representative.birth_date, today):
        raise InvalidInput.for_field(
            "representative_ins", "a legal representative must be an adult"
        )
