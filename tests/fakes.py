"""Small typed stand-ins for the other services, for use-case tests that drive one service's
entrypoints with nameko's worker_factory and an in-memory store (tests/<service>/test_use_cases.py).

Tokens are real (services/common/tokens.py, with the keys `signed_in` sets): the services verify them as in
production, and the fakes read the actor from them as consent would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from services.common.actors import Actor, ActorKind
from services.common.grants import Action, Grant
from services.common.keys import SigningKey
from services.common.settings import Settings
from services.common.tokens import issue, verify


class Tokens:
    """Issues real access tokens with a key the test process trusts (DMP_TOKEN_*)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.key = SigningKey.generate("use-cases")
        monkeypatch.setenv("DMP_TOKEN_SIGNING_KEY", self.key.serialise())
        monkeypatch.setenv("DMP_TOKEN_PUBLIC_KEYS", self.key.public())

    def patient(self, patient_id: str, ins: str) -> str:
        return self.of(Actor(kind=ActorKind.PATIENT, id=patient_id, ins=ins))

    def professional(self, rpps: str) -> str:
        return self.of(
            Actor(kind=ActorKind.PROFESSIONAL, id=f"rpps:{rpps}", rpps=rpps, profession="10")
        )

    def of(self, actor: Actor) -> str:
        return issue(actor, self.key, Settings.load(), datetime.now(UTC))


@dataclass
class FakeConsent:
    """consent's `grant`: the decisions the test sets, per (actor id, INS, action); a refusal otherwise,
    as consent refuses whoever holds no right. Records each question asked."""

    decisions: dict[tuple[str, str, Action], Grant] = field(default_factory=dict)
    asked: list[tuple[str, str, str]] = field(default_factory=list)

    def allow(
        self, actor_id: str, ins: str, action: Action, patient_id: str, **fields: Any
    ) -> None:
        self.decisions[(actor_id, ins, action)] = Grant(
            allowed=True,
            action=action,
            rule="R-HOLDER",
            reason="allowed",
            patient_id=patient_id,
            decided_at=datetime.now(UTC),
            **fields,
        )

    def refuse(
        self, actor_id: str, ins: str, action: Action, rule: str, patient_id: str | None = None
    ) -> None:
        self.decisions[(actor_id, ins, action)] = _refusal(action, rule, patient_id)

    def grant(self, token: str, ins: str, action: str) -> dict[str, Any]:
        actor = verify(token, Settings.load())
        self.asked.append((actor.id, ins, action))
        decided = self.decisions.get((actor.id, ins, Action(action)))
        return (decided or _refusal(Action(action), "R-NO-CONSENT")).model_dump(mode="json")


def _refusal(action: Action, rule: str, patient_id: str | None = None) -> Grant:
    return Grant(
        allowed=False,
        action=action,
        rule=rule,
        reason="refused",
        patient_id=patient_id,
        decided_at=datetime.now(UTC),
    )
