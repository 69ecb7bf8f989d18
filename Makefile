# leadflow — everything a fresh machine needs, from python3, make and git.
#   make demo   run the whole pipeline on the embedded default and print what it did
#   make test   ruff, then the full pytest suite
#   make docs   dbt docs (static, offline) with the exposures
#   make bench  the whole pipeline at SIZE=S|M|L (10k / 100k / 1M people) against measured floors
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MANIFEST := dbt_project/target/manifest.json
DBT_FILES := $(shell find dbt_project \( -path dbt_project/target -o -path dbt_project/logs \) -prune \
	-o -type f \( -name '*.sql' -o -name '*.yml' -o -name '*.csv' \) -not -name '.*' -print)
PYTEST_ARGS ?=
SIZE ?= S

.PHONY: install demo test lint format pytest airflow quality-docs db-start db-stop db-status lock docs bench clean

install: $(STAMP) $(MANIFEST)

# The venv is built from the committed lock only: uv (itself pinned by hash) syncs it exactly,
# then leadflow is installed editable without touching the network again. Bytecode is compiled
# once here (~30 s): every Airflow task, dbt and GX process would otherwise compile what it imports
# whenever the environment forbids writing .pyc files (PYTHONDONTWRITEBYTECODE) — seconds each.
$(STAMP): requirements.lock requirements-bootstrap.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-bootstrap.txt
	$(BIN)/uv pip sync --quiet --compile-bytecode --python $(BIN)/python requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --offline --no-deps --no-build-isolation -e .
	@touch $@

# cosmos renders the dbt DAG from this manifest, so parsing a DAG file never runs dbt.
$(MANIFEST): $(STAMP) $(DBT_FILES) $(wildcard config/sources/*.yml)
	$(BIN)/leadflow dbt parse --quiet

demo: install
	$(BIN)/leadflow demo

test: install lint pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	cd dbt_project && ../$(BIN)/sqlfluff lint --disable-progress-bar models macros tests

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

pytest: install
	$(BIN)/pytest $(PYTEST_ARGS)

# The Airflow UI on 127.0.0.1 (airflow standalone); the login is printed.
airflow: install
	$(BIN)/leadflow airflow-ui

# dbt docs: models, columns, tests, lineage and exposures (who reads the marts) as one static page
# that works offline; the catalog (column types) comes from the warehouse
docs: install
	$(BIN)/leadflow dbt docs generate --static --quiet
	@echo "dbt docs: file://$(CURDIR)/dbt_project/target/static_index.html"

# The whole pipeline through Airflow at one size, each stage against a floor measured in the same
# run (bare COPY, one GROUP BY, bare HTTP round trips), then two daily runs; a table on the terminal
# and a JSON file in benchmarks/results/. The data is generated once per size (benchmarks/data/).
bench: install
	$(BIN)/python benchmarks/pipeline.py --size $(SIZE)

# GX Data Docs of every validation so far (a static site in .leadflow/gx/data_docs)
quality-docs: $(STAMP)
	$(BIN)/leadflow quality docs

db-start: $(STAMP)
	$(BIN)/leadflow db start
db-stop: $(STAMP)
	$(BIN)/leadflow db stop
db-status: $(STAMP)
	$(BIN)/leadflow db status

# Re-resolve the lock (needs the package index); commit both files afterwards.
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
		--generate-hashes --quiet -o requirements.lock
	echo 'uv==0.13.8' | $(BIN)/uv pip compile - --universal --python-version 3.11 \
		--generate-hashes --quiet --no-header -o requirements-bootstrap.txt

clean:
	-$(BIN)/leadflow db stop
	rm -rf $(VENV) .leadflow dbt_project/target dbt_project/logs
