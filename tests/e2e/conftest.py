"""The end-to-end tests drive the whole system (tests/system.py's `system`, one for the whole run) over HTTP
and, for the pages, in Chromium."""

# One Chromium for the whole run, shared by every module with browser tests: Playwright, never stopped
# (see browser.py), cannot be started a second time in the same process.
from tests.e2e.browser import chromium  # noqa: F401 (a fixture, used by name)
