# Two entry points: `make demo` and `make test`. Both set up everything they need.
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# axe-core for the accessibility tests, exactly as tests/browser/package-lock.json pins it.
AXE_STAMP := tests/browser/node_modules/.installed-stamp
PYTHON ?= python3
# The pinned set CI tests (runtime and dev), resolved from pyproject.toml by `make lock`.
LOCK := requirements.lock
LOCK_COMPILE = $(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 \
	--generate-hashes --custom-compile-command "make lock" --quiet -o $(LOCK)
export PREFECT_HOME ?= $(CURDIR)/var/prefect
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export DO_NOT_TRACK ?= 1

.PHONY: demo test lint typecheck pytest setup system-deps lock lock-upgrade bench clean \
	messages-extract messages-update

setup: $(STAMP) system-deps

# A new lock or pyproject.toml rebuilds the environment from scratch: exactly the pinned set,
# then the project itself without resolving anything again.
$(STAMP): $(LOCK) pyproject.toml
	$(PYTHON) -m venv --clear $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

# After editing the dependencies in pyproject.toml: the pins that still fit are kept.
lock: | $(STAMP)
	$(LOCK_COMPILE)

# Every pin to the newest release its range in pyproject.toml allows.
lock-upgrade: | $(STAMP)
	$(LOCK_COMPILE) --upgrade

# A changed lock installs again; `npm ci` installs exactly the locked set, checking its hashes.
$(AXE_STAMP): tests/browser/package-lock.json tests/browser/package.json | system-deps
	npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error
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
	$(BIN)/enrich report --out var/demo/report.html
	@echo "Outbox: var/outbox (email/*.eml, sms/*.jsonl, letters/*.pdf + manifest CSV)"
	@echo "Report: var/demo/report.html (open it in a browser)"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/deptry .
	$(BIN)/deptry tests benchmarks scripts --exclude '\.venv' --ignore DEP002,DEP004

typecheck: setup
	$(BIN)/mypy

# The browser tests also need axe-core; the demo does not.
pytest: setup $(AXE_STAMP)
	$(BIN)/pytest

test: lint typecheck pytest

bench: setup
	$(BIN)/python benchmarks/selection_enrollment.py
	$(BIN)/python benchmarks/letters.py
	$(BIN)/python benchmarks/webhook_ingestion.py
	$(BIN)/python benchmarks/provider_sending.py
	$(BIN)/python benchmarks/dossier.py
	$(BIN)/python benchmarks/audit_verify.py
	$(BIN)/python benchmarks/changes_export.py
	$(BIN)/python benchmarks/round_plan.py
	$(BIN)/python benchmarks/round_report.py

# Translations (README, "Adding a language"): the English source strings of the templates and
# the landing page into templates/locales/messages.pot, then into every language's .po file.
# Nothing is compiled: the .po files are read as they are (outreach/i18n.py).
LOCALES_DIR := templates/locales
messages-extract: | $(STAMP)
	$(BIN)/pybabel extract -F templates/babel.cfg --sort-by-file --no-wrap \
		--project Enrich -c Translators: \
		-o $(LOCALES_DIR)/messages.pot templates enrich/web

messages-update: messages-extract
	$(BIN)/pybabel update -i $(LOCALES_DIR)/messages.pot -d $(LOCALES_DIR) --no-wrap \
		--ignore-obsolete

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache tests/browser/node_modules
