"""Settings for use-case tests that drive a service's worker directly (worker_factory): read again from the
environment at each use, so that a test which changes a variable (a key rotated, development login turned
off) sees what a restarted service would, without rebuilding the worker it holds."""

from __future__ import annotations

from typing import Any, cast

from services.common.settings import Settings


class _Reread:
    def __getattr__(self, name: str) -> Any:
        return getattr(Settings.load(), name)


def live_settings() -> Settings:
    return cast(Settings, _Reread())
