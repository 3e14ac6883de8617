# voltbridge: `make run` to try it, `make test` to check it. `make help` lists every target.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
STAMP  := $(VENV)/.installed-$(shell cat setup.cfg pyproject.toml | cksum | cut -d' ' -f1)
# pytest-xdist workers for `make test`. More than the cores: most of a test's time is spent waiting (servers,
# subprocesses, sockets), not computing. Each worker has its own SQLite files and PostgreSQL schema.
TEST_WORKERS ?= 4

.DEFAULT_GOAL := help
.PHONY: help run test lint typecheck bench install clean system

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*; touch $@

install: $(STAMP) ## Create the virtualenv and install the package with its test extra

run: $(STAMP) ## Start the gateway on SQLite and the sandbox network (http://127.0.0.1:8000; HOST=, PORT= to move it)
	LOG_JSON=$${LOG_JSON:-0} $(BIN)/voltbridge run --host $(HOST) --port $(PORT)

lint: $(STAMP) ## ruff, mypy and the import layers (lint-imports)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

system: ## Debian packages the suite drives (Chromium, PHP, PHPUnit), installed when missing
	@scripts/system-packages

# The lint runs beside the suite, not before it: it is one process, and the suite's workers often wait (servers,
# sockets) with a core to spare. Its output follows the suite's; either one failing fails `make test`.
test: system $(STAMP) ## Lint, type-check and run the whole suite in parallel (SQLite; PostgreSQL with TEST_DATABASE_URL)
	@$(MAKE) --no-print-directory lint > $(VENV)/lint.log 2>&1 & lint=$$!; \
	$(BIN)/pytest -q -n $(TEST_WORKERS); tests=$$?; \
	wait $$lint; linted=$$?; echo "== make lint"; cat $(VENV)/lint.log; \
	[ $$linted -eq 0 ] || echo "make lint failed" >&2; [ $$linted -eq 0 ] && [ $$tests -eq 0 ]

bench: $(STAMP) ## Benchmarks under bench/ (each prints its figures; its last line is one JSON object)
	@set -e; for script in bench/[!_]*.py; do echo "== $$script"; $(BIN)/python $$script; done

clean: ## Remove the virtualenv and caches (keeps ./instance)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
