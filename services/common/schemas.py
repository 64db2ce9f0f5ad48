"""What the services' contracts share: the base of every model a method takes (`Strict`), the gateway's error
(`Problem`), and the checked values any contract may be made of (Ins, Rpps, Profession, Name, Mobile,
Category). Each service's own requests and answers are in services/<service>/schemas.py, which its
callers import (the gateway publishes them as OpenAPI).

Unknown fields are refused everywhere (extra="forbid"): a typo is an error, not a silent no-op.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from services.common import identifiers
from services.common.codes import CATEGORIES

Ins = Annotated[
    str,
    AfterValidator(identifiers.check_ins),
    Field(description="INS: 13-character NIR + 2-digit key", examples=["180012A00100161"]),
]
Rpps = Annotated[str, AfterValidator(identifiers.check_rpps), Field(examples=["10000000008"])]
Profession = Annotated[
    str,
    AfterValidator(identifiers.check_profession),
    Field(description="TRE_G15 code", examples=["10"]),
]
Name = Annotated[str, Field(min_length=1, max_length=100)]
Mobile = Annotated[
    str,
    Field(
        pattern=r"^\+[1-9][0-9]{7,14}$",
        description="mobile number, E.164",
        examples=["+33612345678"],
    ),
]


def _category(code: str) -> str:
    if code not in CATEGORIES:
        raise ValueError("is not a TRE_A03 document class (10, 11, 31, 42, ...)")
    return code


Category = Annotated[str, AfterValidator(_category)]  # a TRE_A03 document class


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Problem(BaseModel):
    """An error, as RFC 9457 problem details."""

    type: str
    title: str
    status: int
    code: str = Field(description="stable machine-readable code, e.g. invalid_input, access_denied")
    detail: str
    instance: str
    request_id: str | None = None
    errors: list[dict[str, str]] = Field(
        default_factory=list,
        description="each field at fault with its reason, or the rule that refused",
    )
