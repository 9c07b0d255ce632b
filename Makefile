# Mastery Arc: every command a developer needs. `make demo` runs the system, `make test` the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PACKAGES := libs/contracts libs/protos libs/platform services/catalog services/evidence services/mastery services/reporting
PROTOS := $(sort $(shell find proto -name "*.proto"))
STAMP := $(VENV)/.installed

.PHONY: install protos demo test test-unit test-integration test-e2e lint typecheck bench asyncapi clean kubectl test-deploy browser

install: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Stubs are generated, never committed: the build regenerates them from proto/ with pinned grpcio-tools.
libs/protos/src/arc/.generated: $(PROTOS) $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt grpcio-tools mypy-protobuf
	rm -rf libs/protos/src/arc
	mkdir -p libs/protos/src
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/python -m grpc_tools.protoc -I proto --python_out=libs/protos/src --grpc_python_out=libs/protos/src \
		--mypy_out=libs/protos/src --mypy_grpc_out=libs/protos/src $(PROTOS)
	touch $@

protos: libs/protos/src/arc/.generated

$(STAMP): libs/protos/src/arc/.generated constraints.txt requirements-dev.txt $(addsuffix /pyproject.toml,$(PACKAGES))
	$(BIN)/pip install --quiet -c constraints.txt -r requirements-dev.txt $(addprefix -e ,$(PACKAGES))
	touch $@

demo: install
	$(BIN)/python scripts/demo.py

# The one test command (CI runs it through .ci/run with REQUIRE_POSTGRES=1).
test: install browser kubectl
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest

test-unit: install
	$(BIN)/pytest tests/unit

test-integration: install
	$(BIN)/pytest tests/integration

test-e2e: install browser
	$(BIN)/pytest tests/e2e

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

# kubectl renders deploy/k8s for tests/deploy (`kubectl kustomize`, validated offline). Installed
# from Debian's packages when missing (CI machines are Debian and run as root): the `kubectl`
# package where the apt sources have it, else Debian's `kubernetes-client`.
kubectl:
	@command -v kubectl >/dev/null 2>&1 || { apt-get update -qq && \
		{ apt-get install -y -qq kubectl || apt-get install -y -qq kubernetes-client; }; }
	@kubectl version --client

# Browser tests (tests/e2e/test_reporting_browser.py) drive Debian's chromium with Playwright
# (Playwright's own browser download does not work here): installed from apt when missing.
browser:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium; }

test-deploy: install kubectl
	$(BIN)/pytest tests/deploy

# Benchmarks (not part of `make test`): see bench/__main__.py for BENCH_* settings.
bench: install
	$(BIN)/python -m bench

asyncapi: install
	$(BIN)/python -m arc_platform.asyncapi > docs/asyncapi.json

clean:
	rm -rf $(VENV) var libs/protos/src/arc
