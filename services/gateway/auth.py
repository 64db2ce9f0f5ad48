"""The bearer token of a request, checked at the door (a clear 401 early; every service checks again)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.common.errors import Unauthenticated
from services.common.tokens import verify

bearer = HTTPBearer(auto_error=False, description="Access token issued by identity")


def access_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("an access token is required (Authorization: Bearer ...)")
    verify(credentials.credentials)
    return credentials.credentials


Token = Annotated[str, Depends(access_token)]
