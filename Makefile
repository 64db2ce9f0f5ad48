# The two commands a new user needs: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install lint typecheck fast unit test-store slow bench bench-quick clean

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m deploy.local.stack

lint: $(STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

# Prepares what the tests need (the RabbitMQ management API for per-test vhosts), then runs
# lint, types and the whole suite, slow tests included.
test: $(STAMP)
	$(BIN)/python -m deploy.local.prepare_tests
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest -q --durations=15

# The fast tier: every test that needs no broker, store, mail server or browser (tests/conftest.py finds
# them from their fixtures), in well under a minute; what to run after each change.
fast: $(STAMP)
	$(BIN)/pytest -q -m fast

unit: $(STAMP)
	$(BIN)/pytest -q -m "not slow"

# The stores' contract tests: each service's store against a real server, the embedded one by default, or
# an operator's MongoDB (a replica set) before production: `make test-store MONGO_URI='mongodb://...'`.
test-store: $(STAMP)
	DMP_TEST_MONGO_URI="$(MONGO_URI)" $(BIN)/pytest -q -m store

slow: $(STAMP)
	$(BIN)/pytest -q -m slow

# Benchmarks against floors measured in the same run (bench/RESULTS.md); JSON under var/bench.
bench: $(STAMP)
	$(BIN)/python -m deploy.local.prepare_tests
	$(BIN)/python -m bench

bench-quick: $(STAMP)
	$(BIN)/python -m deploy.local.prepare_tests
	$(BIN)/python -m bench --quick

clean:
	rm -rf $(VENV) var

# The Kubernetes manifests and the image recipe alone (kustomize build, Kubernetes 1.32 strict schemas,
# custom resources; skipped checks are listed with their reason). Part of `make test` too.
.PHONY: manifests
manifests: $(STAMP)
	$(BIN)/pytest -q -rs tests/deploy/test_manifests.py tests/deploy/test_dockerfile.py

# Issue 12: the fault tests alone (kill -9 each service, broker outage, store restart, under load),
# and the security tests alone (attacks, malformed messages, payload fuzzing, secret and PII scans).
.PHONY: faults security
faults: $(STAMP)
	$(BIN)/python -m deploy.local.prepare_tests
	$(BIN)/pytest -q -s -m faults

security: $(STAMP)
	$(BIN)/python -m deploy.local.prepare_tests
	$(BIN)/pytest -q -s tests/security
