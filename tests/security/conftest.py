"""The security tests run against the whole system, started as `make run` starts it (tests/e2e's fixtures)."""

from tests.e2e.conftest import api, system  # noqa: F401 (fixtures shared with the end-to-end tests)
