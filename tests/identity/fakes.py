"""What identity's use-case tests put in place of the other services and of nameko's after-reply hook: small
typed fakes that keep what they were asked, for the tests to read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from services.common.sealing import open_json
from services.common.settings import Secret, Settings
from services.notify.schemas import IDENTITY_MESSAGE


@dataclass(frozen=True)
class Message:
    """A message identity had notify deliver, as notify opens it."""

    channel: str
    to: str
    kind: str
    language: str
    code: str | None  # a login or contact code


class _Deliver:
    """notify.deliver_identity_message as nameko's proxy has it: called asynchronously."""

    def __init__(self, sent: list[Message]) -> None:
        self.sent = sent

    def call_async(self, payload: dict[str, Any]) -> None:
        plain = open_json(
            Settings.load().key(Secret.IDENTITY_MESSAGE_KEY), payload["sealed"], IDENTITY_MESSAGE
        )
        code = plain.get("code")
        self.sent.append(
            Message(plain["channel"], plain["to"], plain["kind"], plain["language"], code)
        )


class FakeNotify:
    def __init__(self) -> None:
        self.sent: list[Message] = []
        self.deliver_identity_message = _Deliver(self.sent)

    def last_code(self, to: str) -> str:
        codes = [m.code for m in self.sent if m.to == to and m.code is not None]
        assert codes, f"no code was sent to {to}"
        return codes[-1]


class AfterReply:
    """`later`: the work an entrypoint leaves for after its answer, run when the test says the answer left."""

    def __init__(self) -> None:
        self.pending: list[Callable[[], object]] = []

    def __call__(self, action: Callable[[], object]) -> None:
        self.pending.append(action)

    def answer_left(self) -> None:
        actions, self.pending = self.pending, []
        for action in actions:
            action()
