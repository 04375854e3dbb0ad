# Two commands matter: `make demo` and `make test`. Both work on a fresh machine
# with only Python >= 3.11 and make: they install a pinned uv (from the package index,
# checked against tools/requirements-uv.lock's hashes), then exactly what requirements.lock
# pins, so every machine tests the same versions. `make lock` moves the lock on purpose.
PYTHON ?= python3
# One venv per interpreter: `make test PYTHON=python3.12` builds .venv-python3.12 and never
# reuses the default .venv of another version.
VENV   ?= $(if $(filter python3,$(PYTHON)),.venv,.venv-$(notdir $(PYTHON)))
BIN    := $(VENV)/bin
LOCK   := requirements.lock
UV     := .venv-uv/bin/uv
# uv, never pip's or uv's own config files: the lock alone decides. No interpreter downloads.
export UV_NO_CONFIG := 1
export UV_PYTHON_DOWNLOADS := never
UV_PIP  = $(UV) pip --quiet
# uv's universal lock: one file, markers for 3.11, 3.12 and 3.13, every wheel's hash.
# setuptools is locked too: the editable install builds without fetching a build backend.
LOCK_ARGS = --universal --generate-hashes --python-version 3.11 --upgrade \
            --custom-compile-command "make lock"

.PHONY: demo test test-lambda lint format bench reliability clean vendor-js lock rehearse

$(UV): tools/requirements-uv.lock
	$(PYTHON) -m venv .venv-uv
	.venv-uv/bin/python -m pip --disable-pip-version-check -q install --require-hashes \
	  -r tools/requirements-uv.lock
	@touch $@

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "deniedwatch needs Python >= 3.11 (set PYTHON=python3.12)")'
	$(PYTHON) -m venv $(VENV)

# demo: only the package's own dependencies, at the lock's versions
$(VENV)/.installed: $(LOCK) pyproject.toml | $(BIN)/python $(UV)
	$(UV_PIP) install --python $(BIN)/python -c $(LOCK) setuptools
	$(UV_PIP) install --python $(BIN)/python -c $(LOCK) --no-build-isolation -e .
	@touch $@

# test: the whole lock, nothing else (sync removes what the lock no longer names)
$(VENV)/.installed-dev: $(LOCK) pyproject.toml | $(BIN)/python $(UV)
	$(UV_PIP) sync --python $(BIN)/python --require-hashes $(LOCK)
	$(UV_PIP) install --python $(BIN)/python --no-deps --no-build-isolation -e .
	@touch $@ $(VENV)/.installed

# checkov pins old urllib3/packaging, so it lives in its own venv with its own lock;
# tests/test_template.py runs it (and cfn-lint) on the CloudFormation template.
.venv-checkov/.installed: tools/requirements-checkov.lock | $(UV)
	$(PYTHON) -m venv .venv-checkov
	$(UV_PIP) sync --python .venv-checkov/bin/python --require-hashes tools/requirements-checkov.lock
	@touch $@

# botocore-next: deniedwatch (its runtime dependencies at the lock's versions) with the newest
# boto3/botocore that `make lock` found, beyond the dev extra's cap (moto cannot serve it).
# tests/test_athena_botocore_next.py runs the Athena commands from this venv against moto
# through a REST-JSON stand-in (tests/athena_rest_json.py): what users' current releases do.
.venv-botocore-next/.installed: tools/requirements-botocore-next.lock $(LOCK) pyproject.toml | $(UV)
	$(PYTHON) -m venv --clear .venv-botocore-next
	$(UV_PIP) install --python .venv-botocore-next/bin/python -c $(LOCK) setuptools
	$(UV_PIP) install --python .venv-botocore-next/bin/python -c $(LOCK) --no-build-isolation -e .
	$(UV_PIP) install --python .venv-botocore-next/bin/python --require-hashes --no-deps \
	  -r tools/requirements-botocore-next.lock
	$(UV) pip check --python .venv-botocore-next/bin/python
	@touch $@

## lock: move every pin to the newest release the ranges in pyproject.toml allow, then test.
## Run it on purpose (a new dependency, a security fix, a release you want), never by surprise;
## commit the changed locks with the test result.
lock: $(UV)
	echo "setuptools>=68" | $(UV_PIP) compile pyproject.toml - --extra dev $(LOCK_ARGS) -o $(LOCK)
	echo "checkov" | $(UV_PIP) compile - $(LOCK_ARGS) -o tools/requirements-checkov.lock
	printf 'boto3\nbotocore\n' | $(UV_PIP) compile - $(LOCK_ARGS) -o tools/requirements-botocore-next.lock
	echo "uv" | $(UV_PIP) compile - $(LOCK_ARGS) --no-header -o tools/requirements-uv.lock
	$(MAKE) test

## demo: scan the bundled CloudTrail export and print the findings as a table
demo: $(VENV)/.installed
	$(BIN)/deniedwatch scan examples/cloudtrail --config examples/deniedwatch.toml --format table

## test: lint, then every test (unit, moto server, local Slack stand-in)
test: $(VENV)/.installed-dev .venv-checkov/.installed .venv-botocore-next/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-logo
	$(BIN)/python -m pytest -q -n 2 --dist loadfile -m "not slow"

## test-lambda: the function's own tests (handler, fast path, triage, dedup store, the zip) in
## $(VENV): `.ci/run` runs them under python3.12, the Lambda runtime, after the 3.11 suite
LAMBDA_TESTS = tests/test_lambda_handler.py tests/test_fast_path.py tests/test_triage.py \
               tests/test_dedup.py tests/test_package.py
test-lambda: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -q -n 2 --dist loadfile $(LAMBDA_TESTS)

## rehearse: before your real account, the whole deployment against moto_server on 127.0.0.1
## (fake credentials): deploy, one denial through the deployed zip, the alert at a local Slack
## receiver, status, destroy --purge; one line per step, the servers always stopped (docs/deploy.md)
rehearse: $(VENV)/.installed-dev
	$(BIN)/python tests/rehearse.py

## reliability: fault injection, bad input, injection, secrets, template checks at full size; prints the figures
reliability: $(VENV)/.installed-dev .venv-checkov/.installed
	$(BIN)/python tests/reliability/run.py

## bench: scan vs decompress floor / jq / DuckDB / naive loop on the real and the worst shape
## (bench/generate.py), and the Lambda storm (not in `make test`). Generates bench/data/<shape>
## first (1,000,000 events each, ~20 s each on 2 quiet cores; BENCH_EVENTS=200000 for less).
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
	rm -rf .venv .venv-* .pytest_cache build dist src/*.egg-info
