"""The gateway's settings, built once by create_app and kept on `app.state`; routes take them as a typed
dependency (`settings: AppSettings`), helpers from the request they are given."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Request

from services.common.settings import Settings


def keep(app: FastAPI, settings: Settings) -> None:
    app.state.settings = settings


def of_app(app: FastAPI) -> Settings:
    settings = getattr(app.state, "settings", None)
    if not isinstance(settings, Settings):
        raise RuntimeError("the app was not made by create_app")
    return settings


def app_settings(request: Request) -> Settings:
    return of_app(request.app)


AppSettings = Annotated[Settings, Depends(app_settings)]
