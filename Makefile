# Two commands on a fresh machine (Python 3.11 or 3.12 and a C compiler):
#   make run    set up .venv and start the Streamlit app
#   make test   set up .venv and run the whole test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501

.PHONY: run test setup check-python clean serve

check-python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] < (3, 13) else 1)' 2>/dev/null || { \
	  echo "spinemets needs Python 3.11 or 3.12: durable-rules 2.0.28 builds on 3.13 but cannot be imported there." >&2; \
	  echo "Found: $$($(PYTHON) --version 2>&1) at $(PYTHON). Install Python 3.12, then: make PYTHON=python3.12 $(MAKECMDGOALS)" >&2; \
	  exit 1; }

$(BIN)/python: | check-python
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed-run $(VENV)/.installed-service

setup: $(VENV)/.installed-test

run: check-python $(VENV)/.installed-run
	$(BIN)/streamlit run ui/app.py --server.port $(PORT) --browser.gatherUsageStats false

test: check-python $(VENV)/.installed-test
	$(BIN)/python -m pytest

# Optional: the CDS Hooks service for an electronic record (docs/interoperability.md), on this machine only.
HOST ?= 127.0.0.1
SERVE_PORT ?= 8090
$(VENV)/.installed-service: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[service]'
	touch $@

serve: check-python $(VENV)/.installed-service
	$(BIN)/spinemets serve --host $(HOST) --port $(SERVE_PORT)

# Speed and memory against the targets of docs/performance.md (a few minutes; QUICK=1 for a first look).
.PHONY: bench
bench: check-python $(VENV)/.installed-run
	$(BIN)/python benchmarks/run.py $(if $(QUICK),--quick)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
