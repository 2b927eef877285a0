# Two commands on a fresh machine (Python 3.11 or 3.12 and a C compiler):
#   make run    set up .venv and start the Streamlit app
#   make test   set up .venv, lint (ruff, mypy) and run the whole test suite
# Both install the exact versions of the lock files (requirements.lock: what the app needs, the core package with
# its [app] extra; requirements-dev.lock: everything, every extra plus the test and lint tools), hash-checked.
# pyproject.toml keeps the version ranges library users install against (`pip install spinemets` is the core only);
# `make lock` re-resolves the lock files from those ranges.
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501
# The lock tool, pinned: uv resolves for every platform and Python the package supports (--universal), in seconds.
UV_VERSION := 0.13.9
LOCK_FLAGS := --universal --python-version 3.11 --generate-hashes --quiet

.PHONY: run test lint setup check-python clean lock wheel serve

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] < (3, 13) else 1)' 2>/dev/null || { \
	  echo "spinemets needs Python 3.11 or 3.12: durable-rules 2.0.28 builds on 3.13 but cannot be imported there." >&2; \
	  echo "Found: $$($(PYTHON) --version 2>&1) at $(PYTHON). Install Python 3.12, then: make PYTHON=python3.12 $(MAKECMDGOALS)" >&2; \
	  exit 1; }

$(BIN)/python: | check-python
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# An editable install leaves the project's own modules as source, and where PYTHONDONTWRITEBYTECODE is set
# (as on our machines) every command compiled them again: 0.64 s per `spinemets evaluate` before, 0.47 s after.
# A module edited later is compiled in memory as before (its stale .pyc is never used).
COMPILE = $(BIN)/python -m compileall -q engine ui

# The locked dependencies first (hash-checked), then the project itself without resolving anything again;
# `pip check` fails if the lock no longer satisfies pyproject.toml's ranges (run `make lock`).
$(VENV)/.installed-run: pyproject.toml requirements.lock | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m pip check
	$(COMPILE)
	touch $@

$(VENV)/.installed-test: pyproject.toml requirements-dev.lock | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m pip check
	$(COMPILE)
	touch $@ $(VENV)/.installed-run

setup: $(VENV)/.installed-test

run: check-python $(VENV)/.installed-run
	$(BIN)/streamlit run ui/app.py --server.port $(PORT) --browser.gatherUsageStats false

# ruff and mypy (strict) on engine/ and ui/, configured in pyproject.toml. mypy cannot follow the package-dir
# mapping (engine/ installs as spinemets, ui/ as spinemets.ui) from the repository's folders, so
# .ci/typecheck.py lays out build/typecheck/spinemets/ as symlinks to engine/'s entries and ui/, runs mypy on
# that tree and reports the paths as engine/... and ui/....
lint: check-python $(VENV)/.installed-test
	$(BIN)/ruff check engine ui .ci benchmarks/mutants.py
	$(BIN)/python .ci/typecheck.py

# The test tools from npm (package-lock.json: the second FHIR validator, axe-core), when npm is on the machine;
# without it their tests skip (and fail under CI=true, whose .ci/run installs them).
node_modules/.package-lock.json: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --silent; \
	  else echo "npm not found: the FHIR validator and accessibility tests will be skipped" >&2; fi

# The tests run on every core (pytest-xdist; at most 4 workers, each within its memory budget), each worker taking
# the next test as it frees up. TEST_WORKERS=0 runs them in this one process (`pytest tests/x.py` alone does too).
TEST_WORKERS ?= auto
test: lint $(if $(shell command -v npm),node_modules/.package-lock.json)
	$(BIN)/python -m pytest --numprocesses $(TEST_WORKERS) --maxprocesses 4 --dist worksteal

# Re-resolve both lock files from pyproject.toml's ranges, keeping every pin that still fits (after adding a
# dependency to pyproject.toml, this is the one command). UPGRADE=1 moves every pin to the newest allowed.
# requirements-dev.lock is constrained by requirements.lock, so the two never disagree on a shared package.
lock: $(BIN)/python
	$(BIN)/python -m pip install --quiet uv==$(UV_VERSION)
	$(BIN)/uv pip compile pyproject.toml --extra app $(LOCK_FLAGS) $(if $(UPGRADE),--upgrade) -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra test --extra lint -c requirements.lock $(LOCK_FLAGS) \
	  $(if $(UPGRADE),--upgrade) -o requirements-dev.lock

# The wheel (rules/ and cases/ inside as package data), built into dist/.
wheel: $(BIN)/python
	rm -rf dist build/lib
	$(BIN)/python -m pip wheel --quiet --no-deps --wheel-dir dist .

# Optional: the CDS Hooks service for an electronic record (docs/interoperability.md), on this machine only.
HOST ?= 127.0.0.1
SERVE_PORT ?= 8090
# The service's dependencies (the `service` extra) come with the test set (extra test = all + the tools),
# hash-checked from requirements-dev.lock.
serve: check-python $(VENV)/.installed-test
	$(BIN)/spinemets serve --host $(HOST) --port $(SERVE_PORT)

# Speed and memory against the targets of docs/performance.md (a few minutes; QUICK=1 for a first look).
.PHONY: bench
bench: check-python $(VENV)/.installed-run
	$(BIN)/python benchmarks/run.py $(if $(QUICK),--quick)

# Mutation testing of the rule base (docs/verification.md, "Mutation testing"): which clinically meaningful
# edits of rules/ `spinemets verify` and the decision tests catch. About 10 minutes alone; QUICK=1: verify only.
.PHONY: mutants
mutants: check-python $(VENV)/.installed-test
	$(BIN)/python benchmarks/mutants.py $(if $(QUICK),--verify-only)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .mypy_cache .ruff_cache build dist
