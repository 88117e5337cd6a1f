# The project's interface: `make help` lists the targets.
# Everything installs itself on first use; only python3 (3.11+) and make are assumed.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SAM_VENV := .venv-sam
SAM := $(SAM_VENV)/bin/sam
SAM_CLI_VERSION := 1.170.0
PEERS_VENV := .venv-bench-peers
export SAM_CLI_TELEMETRY := 0

.DEFAULT_GOAL := help
.PHONY: help install dev test lint build verify-build bench bench-publish soak migrate seed stop clean openapi token

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

# The virtualenv is rebuilt when a pin changes. The .pth file puts the layer's
# package and the repository root on sys.path, as Lambda puts /opt/python.
# pip is not --quiet: its lines are how a first install shows it is working.
$(VENV)/.installed: requirements-dev.txt layers/shared/requirements.txt layers/shared/requirements-tracing.txt
	@echo "Installing the pinned dependencies into $(VENV): a one-time step (again only when a pin changes), about a minute..."
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -r requirements-dev.txt
	printf '%s\n%s\n' "$(CURDIR)/layers/shared/python" "$(CURDIR)" \
		> "$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/appointments-dev.pth"
	touch $@

# aws-sam-cli pins boto3, click and pydantic below what the app uses: own virtualenv.
$(SAM):
	@echo "make lint and make build need aws-sam-cli: installing $(SAM_CLI_VERSION) into $(SAM_VENV), a one-time step of about a minute..."
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --disable-pip-version-check aws-sam-cli==$(SAM_CLI_VERSION)

install: $(VENV)/.installed ## Create the virtualenv with the pinned dependencies

dev: $(VENV)/.installed ## Serve the API on http://127.0.0.1:3000 (PORT=...), embedded PostgreSQL, no Docker
	$(PY) -m local.dev_server $(DEV_ARGS)

# USER must come from the command line: the shell's own USER is the login name.
token: $(VENV)/.installed ## Print a token for JWT_ISSUER=local make dev: USER=user_alice [ADMIN=1]
	@test "$(origin USER)" = "command line" || { echo "usage: make token USER=user_alice [ADMIN=1]" >&2; exit 2; }
	@$(PY) -m local.dev_issuer token "$(USER)" $(if $(filter 1 yes true,$(ADMIN)),--admin)

test: $(VENV)/.installed ## Run the test suite (embedded PostgreSQL unless TEST_DATABASE_URL is set)
	$(PY) -m pytest $(PYTEST_ARGS)

openapi: $(VENV)/.installed ## Write openapi.json from template.yaml and the models (a test fails when stale)
	$(PY) -m local.openapi

lint: $(VENV)/.installed $(SAM) ## ruff, mypy --strict, cfn-lint, sam validate --lint, SAM translation with sign-in off and on
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy layers/shared/python functions local bench
	$(VENV)/bin/cfn-lint template.yaml
	$(SAM) validate --lint --region us-east-1
	PYTHONPATH=$(CURDIR) $(SAM_VENV)/bin/python -m local.check_auth_modes

build: $(SAM) $(VENV)/.installed ## sam build (arm64 layer, no Docker), then check the layer's binaries and size
	$(SAM) build
	$(PY) -m local.check_layer .aws-sam/build/SharedLayer

# Not a prerequisite on build: CI builds once, then verifies. Installs
# qemu-user-static and binutils with apt-get when missing (as root) and caches
# Debian's arm64 CPython 3.13 under .local/; then its own self-test breaks a
# copy of the build three ways and expects each to be caught.
verify-build: $(VENV)/.installed ## Run sam build's output on aarch64 CPython 3.13 (qemu): every function, real events
	@test -f .aws-sam/build/template.yaml || { echo "no .aws-sam/build: run make build first"; exit 1; }
	$(PY) -m local.verify_build
	VERIFY_BUILD_SELFTEST=1 $(PY) -m pytest -q tests/verify_build

# FastAPI+Mangum, the peer the cold start is measured beside: a virtualenv of
# its own, so that neither FastAPI nor Mangum enters the layer or .venv.
$(PEERS_VENV)/.installed: bench/peers/requirements.txt
	@echo "make bench measures FastAPI+Mangum beside the functions: installing it into $(PEERS_VENV), a one-time step of under a minute..."
	$(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/pip install --disable-pip-version-check -r bench/peers/requirements.txt
	touch $@

# The figures go under .local/bench/ (git-ignored): a run leaves the checkout clean.
bench: build $(PEERS_VENV)/.installed ## Benchmarks: cold start beside the floor and FastAPI, warm latency, round trips, table growth, contention, HTTP load
	$(PY) -m bench $(BENCH_ARGS)

bench-publish: build $(PEERS_VENV)/.installed ## As make bench, then rewrite the committed BENCHMARKS.md and bench/results.json
	$(PY) -m bench --publish $(BENCH_ARGS)

SOAK_SECONDS ?= 300
soak: $(VENV)/.installed ## Mixed traffic through the local server with connection kills (SOAK_SECONDS=300)
	$(PY) -m bench.soak --seconds $(SOAK_SECONDS)

migrate: $(VENV)/.installed ## Apply migrations (DATABASE_URL, or the embedded server)
	$(PY) -m local.migrate

seed: $(VENV)/.installed ## Apply migrations and load the development users
	$(PY) -m local.migrate --seed

stop: $(VENV)/.installed ## Stop an embedded PostgreSQL left running under .local/ (not one make dev uses)
	$(PY) -m local.embedded_db stop

clean: ## Remove build output and caches (keeps .local/ data)
	rm -rf .aws-sam .pytest_cache .ruff_cache .mypy_cache
