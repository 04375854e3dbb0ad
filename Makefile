# Two commands matter: `make demo` and `make test`. Both work on a fresh machine
# with only Python >= 3.11 and make: they create .venv and install what they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: demo test lint format bench reliability clean vendor-js

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "deniedwatch needs Python >= 3.11 (set PYTHON=python3.12)")'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[dev]'
	@touch $@ $(VENV)/.installed

# checkov pins old urllib3/packaging, so it lives in its own venv; tests/test_template.py
# runs it (and cfn-lint) on the CloudFormation template.
.venv-checkov/.installed:
	$(PYTHON) -m venv .venv-checkov
	.venv-checkov/bin/python -m pip --disable-pip-version-check -q install checkov
	@touch $@

## demo: scan the bundled CloudTrail export and print the findings as a table
demo: $(VENV)/.installed
	$(BIN)/deniedwatch scan examples/cloudtrail --config examples/deniedwatch.toml --format table

## test: lint, then every test (unit, moto server, local Slack stand-in)
test: $(VENV)/.installed-dev .venv-checkov/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-logo
	$(BIN)/python -m pytest -q -n 2 --dist loadfile -m "not slow"

## reliability: fault injection, bad input, injection, secrets, template checks at full size; prints the figures
reliability: $(VENV)/.installed-dev .venv-checkov/.installed
	$(BIN)/python tests/reliability/run.py

## bench: scan vs decompress floor / jq / naive loop, and the Lambda storm (not in `make test`).
## Generates bench/data first (1,000,000 events, ~20 s on 2 cores; BENCH_EVENTS=200000 for less).
BENCH_EVENTS ?= 1000000
bench: $(VENV)/.installed-dev
	$(BIN)/python bench/run.py --events $(BENCH_EVENTS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-logo

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## vendor-js: refresh the HTML report's chart library (vega, vega-lite, vega-embed) from npm
VEGA_PACKAGES ?= vega@6 vega-lite@6 vega-embed@7
VENDOR := src/deniedwatch/htmlreport/vendor
vendor-js:
	tmp=$$(mktemp -d) && cd $$tmp && npm pack --silent $(VEGA_PACKAGES) >/dev/null && \
	for p in vega vega-lite vega-embed; do \
	  mkdir $$p && tar xzf $$p-[0-9]*.tgz -C $$p && \
	  cp $$p/package/build/$$p.min.js $(CURDIR)/$(VENDOR)/ && \
	  cp $$p/package/LICENSE $(CURDIR)/$(VENDOR)/LICENSE-$$p && \
	  echo "$$p $$(node -p "require('./$$p/package/package.json').version")"; \
	done; rm -rf $$tmp

clean:
	rm -rf $(VENV) .pytest_cache build dist src/*.egg-info
