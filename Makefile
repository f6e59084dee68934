# Pianqu: `make run` sets everything up and starts the platform; `make test` sets up and tests.
# Every step is idempotent: a second run reuses the venv, the cluster and the loaded demo.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO ?= city
SEED ?= 7
PYTEST_ARGS ?=

.PHONY: run test setup sysdeps sysdeps-test venv db migrate demo-data bench stop clean notebook

PIANQU_PORT ?= 8000

# Loads the demo (once), then serves the platform on PIANQU_PORT until stopped, printing the URL,
# the OpenAPI page and a key to try it with.
run: setup
	$(BIN)/pianqu demo-load --size $(DEMO) --seed $(SEED) --if-missing
	$(BIN)/pianqu summary
	$(BIN)/pianqu serve --port $(PIANQU_PORT) --demo-key

test: sysdeps-test venv db migrate
	$(BIN)/pianqu demo-data --size small --seed $(SEED) --if-missing
	$(BIN)/python -m pytest $(PYTEST_ARGS)

setup: sysdeps venv db migrate

sysdeps:
	@bash scripts/sysdeps.sh

# The tests also open the map pages in headless Chromium (Debian's package, never a download).
sysdeps-test:
	@PIANQU_BROWSER=1 bash scripts/sysdeps.sh

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

# Skipped when DATABASE_URL points at an existing PostGIS.
db:
	@if [ -z "$$DATABASE_URL" ]; then bash scripts/pgcluster.sh start; fi

migrate: venv db
	$(BIN)/pianqu db upgrade

demo-data: venv
	$(BIN)/pianqu demo-data --size $(DEMO) --seed $(SEED) --if-missing

bench: setup
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	$(BIN)/python bench/bench_demo.py
	$(BIN)/python bench/bench_partition_scale.py
	$(BIN)/python bench/bench_partition.py
	$(BIN)/python bench/bench_opportunities.py
	$(BIN)/python bench/bench_faults.py

# The analysts' notebooks (notebooks/README.md) in JupyterLab, on the store `make run` serves.
notebook: setup
	$(BIN)/python -m pip install -q -e '.[dev,notebook]'
	$(BIN)/jupyter lab --notebook-dir=notebooks

stop:
	@bash scripts/pgcluster.sh stop

clean: stop
	rm -rf .pianqu data/demo-*
