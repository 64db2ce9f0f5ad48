"""A grant: what one actor may do in one dossier, and which rule said so.

consent builds grants; dossier (and audit) enforce them. A grant is a message shape, so it lives
here rather than in either service.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from services.common.errors import AccessDenied
from services.common.rulebook import explain


class Action(StrEnum):
    OPEN = "open"  # open the dossier
    READ = "read"  # list and read documents
    WRITE = "write"  # add documents
    READ_HISTORY = "read_history"  # see the access history
    MANAGE = "manage"  # close, reopen, ask for deletion


class Grant(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    allowed: bool
    action: Action
    rule: str  # e.g. R-HOLDER, R-CONSENT, R-NO-CONSENT: see services/common/rulebook.py
    reason: str  # one line in English, for the person refused (and support staff)
    reason_fr: str = ""  # the same in French
    patient_id: str | None = None
    categories: tuple[str, ...] = ()  # TRE_A03 classes the action covers
    # The classes this actor may see at all, whatever the action (a write grant covers fewer): what
    # decides whether a document the action names exists for them.
    visible_categories: tuple[str, ...] = ()
    # Visibility codes (TRE_A07) that hide a document from this actor, unless they are its author.
    hidden_visibility: tuple[str, ...] = ()
    matrix_version: str | None = None
    emergency: bool = False  # an emergency ("bris de glace") access: every response says so
    expires_at: datetime | None = None
    decided_at: datetime

    def require(self) -> Grant:
        """The grant itself if allowed, else AccessDenied naming the rule."""
        if not self.allowed:
            raise AccessDenied.by_rule(self.rule, self.reason)
        return self

    def covers(self, category: str) -> bool:
        return self.allowed and category in self.categories

    def for_category(self, category: str) -> Grant:
        """This grant narrowed to one category: a refusal when the category is not covered."""
        if self.covers(category):
            return self
        return self.refused("R-MATRIX-CATEGORY")

    def for_document(
        self, actor_id: str, category: str, visibility: list[str], author_id: str
    ) -> Grant:
        """The decision for one document: its category must be covered, and none of its visibility codes
        may hide it from this actor unless they are its author. (visible_to below is the same rule as
        a Mongo query, for lists, and hidden_from its complement, for the traces of documents in the
        history; a test holds the three together.)"""
        if not self.covers(category):
            return self.refused("R-MATRIX-CATEGORY")
        if author_id != actor_id and set(visibility) & set(self.hidden_visibility):
            return self.refused("R-VISIBILITY")
        return self

    def sees(self, actor_id: str, category: str, visibility: list[str], author_id: str) -> Grant:
        """Whether this actor may see the document at all (its author always does): this grant, or a
        refusal that must answer like a document that does not exist."""
        if author_id == actor_id:
            return self
        if not self.allowed or category not in self.visible_categories:
            return self.refused("R-MATRIX-CATEGORY")
        if set(visibility) & set(self.hidden_visibility):
            return self.refused("R-VISIBILITY")
        return self

    def refused(self, rule: str) -> Grant:
        """The same decision turned into a refusal by `rule` (e.g. the dossier is closed)."""
        french, english = explain(rule)
        return self.model_copy(
            update={"allowed": False, "rule": rule, "reason": english, "reason_fr": french}
        )


# The visibility rule as queries: documents (dossier's, or audit's record of them, in the same shape:
# "visibility" codes and "author.id") this actor may see, and those hidden from them.


def visible_to(grant: Grant, actor_id: str) -> dict[str, Any]:
    """Documents not hidden from this actor by their visibility codes; an author sees their own."""
    return {
        "$or": [{"visibility": {"$nin": list(grant.hidden_visibility)}}, {"author.id": actor_id}]
    }


def hidden_from(grant: Grant, actor_id: str) -> dict[str, Any] | None:
    """The complement of visible_to: documents whose visibility hides them from this actor (None when
    nothing is hidden from them). The history hides every trace of these."""
    if not grant.hidden_visibility:
        return None
    return {"visibility": {"$in": list(grant.hidden_visibility)}, "author.id": {"$ne": actor_id}}


def visibility_data(codes: list[str] | tuple[str, ...]) -> str:
    """A document's visibility codes as they travel in an event's data (a string: "A,B", "" for none)."""
    return ",".join(codes)


def visibility_codes(data: str) -> list[str]:
    return [code for code in data.split(",") if code]
