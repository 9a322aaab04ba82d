# Two entry points: `make demo` and `make test`. Both set up everything they need.
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTHON ?= python3
export PREFECT_HOME ?= $(CURDIR)/var/prefect
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export DO_NOT_TRACK ?= 1

.PHONY: demo test lint typecheck pytest setup system-deps bench clean

setup: $(STAMP) system-deps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

system-deps:
	@bash scripts/system-deps.sh
	@mkdir -p "$(PREFECT_HOME)"

# The demo sends at whatever hour it is run; a real installation keeps the default send windows.
demo: export ENRICH_EMAIL_WINDOW = 00:00-24:00
demo: export ENRICH_EMAIL_DAYS = mon-sun
demo: export ENRICH_SMS_WINDOW = 00:00-24:00
demo: export ENRICH_SMS_DAYS = mon-sun
demo: export ENRICH_LETTER_DAYS = mon-sun
demo: export ENRICH_LETTER_CUTOFF = 24:00
demo: export ENRICH_HOLIDAY_COUNTRY =
demo: setup
	$(BIN)/enrich init
	$(BIN)/enrich demo-data --count 2000 --seed 7 --out var/demo/customers.csv
	$(BIN)/enrich import var/demo/customers.csv --rejects var/demo/rejects.csv
	$(BIN)/enrich round plan
	$(BIN)/enrich round start --started-by demo
	@echo "Outbox: var/outbox (email/*.eml, sms/*.jsonl, letters/*.pdf + manifest CSV)"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: setup
	$(BIN)/mypy

pytest: setup
	$(BIN)/pytest

test: lint typecheck pytest

bench: setup
	$(BIN)/python benchmarks/selection_enrollment.py
	$(BIN)/python benchmarks/letters.py
	$(BIN)/python benchmarks/webhook_ingestion.py
	$(BIN)/python benchmarks/provider_sending.py

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
