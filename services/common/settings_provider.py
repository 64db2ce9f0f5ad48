"""A service's settings, built once when its container is set up and handed to every worker.

`settings: Settings = SettingsProvider(needs=(Secret.MASTER_KEY,))` on a service class: the container
reads the environment once (services/common/settings.py), refuses to start, naming the variable, when a
setting is malformed or a secret the service needs is missing, and its other dependencies (StoreProvider)
take the same settings through `settings_of` (its publishers and listeners, their keys on the bus through
`bus_keys_of`).
"""

from __future__ import annotations

from typing import Any

from nameko.extensions import DependencyProvider

from services.common.settings import Secret, Settings
from services.common.signatures import KeySource

SETTINGS_ATTRIBUTE = "dmp_settings"  # on the container


def settings_of(container: Any) -> Settings:
    """The container's settings, built by the first of its dependencies to ask."""
    settings = getattr(container, SETTINGS_ATTRIBUTE, None)
    if not isinstance(settings, Settings):
        settings = Settings.load()
        setattr(container, SETTINGS_ATTRIBUTE, settings)
    return settings


def bus_keys_of(container: Any) -> KeySource:
    """The container's keys on the bus, for what lasts as long as the container (its publishers, listeners
    and feeds): read through its settings at each message, so that settings read again are the ones used."""
    return lambda: settings_of(container).bus_keys()


class SettingsProvider(DependencyProvider):  # type: ignore[misc]
    def __init__(self, needs: tuple[Secret, ...] = ()) -> None:
        self.needs = needs

    def setup(self) -> None:
        settings_of(self.container).require(*self.needs)

    def get_dependency(self, worker_ctx: object) -> Settings:
        return settings_of(self.container)
