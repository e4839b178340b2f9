# garay: `make run` runs the main job, `make test` the test suite; both install first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The tested torch release. On this CPU-only dev machine pip finds a local CPU wheel; on
# GPU machines the same pin installs PyPI's CUDA build. TORCH_INDEX_URL picks another
# build (e.g. https://download.pytorch.org/whl/cu126).
TORCH_VERSION ?= 2.13.0
TORCH_INDEX_URL ?=
STAMP := $(VENV)/.garay-installed
ARGS ?=

.PHONY: help install run test test-slow test-full docs docs-serve clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# pip -q prints nothing for a minute or more: say every 5 s that it is still at work.
HEARTBEAT = ( t=0; while sleep 5; do t=$$((t+5)); echo "make: still installing ($$t s)"; done ) & hb=$$!; \
	trap "kill $$hb 2>/dev/null" EXIT;

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "make: installing torch $(TORCH_VERSION), then garay and its test extras into $(VENV)"
	@$(HEARTBEAT) $(BIN)/python -m pip install -q "torch==$(TORCH_VERSION)" $(if $(TORCH_INDEX_URL),--index-url $(TORCH_INDEX_URL)) \
		&& $(BIN)/python -m pip install -q -e ".[test]"
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install garay with its test extras

run: $(STAMP)  ## run the main job (the study's settings, synthetic data, local Ray); ARGS=overrides
	$(BIN)/garay $(ARGS)

# The suite on TEST_WORKERS processes (pytest-xdist): much of a test's time waits on Ray's
# and the CLI's processes starting, which another test's work fills. The tests that share
# one Ray instance run together on one of them (tests/conftest.py).
TEST_WORKERS ?= 3

test: $(STAMP)  ## run the test suite (not the slow tests); TEST_WORKERS=N processes (3)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadgroup

test-slow: $(STAMP)  ## run the slow tests only (CI runs them)
	$(BIN)/python -m pytest -q -m slow

test-full: $(STAMP)  ## run the main jobs at full size (minutes; by hand)
	$(BIN)/python -m pytest -q -m full

# The documentation site (mkdocs.yml, docs/): MkDocs with the Material theme, the config
# reference and the CLIs' help generated from the code at build time (docs/hooks/).
DOCS_STAMP := $(VENV)/.garay-docs-installed
MKDOCS := NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs

$(DOCS_STAMP): $(STAMP)
	@$(HEARTBEAT) $(BIN)/python -m pip install -q -e ".[docs]"
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)  ## build the documentation site into site/ (strict: a broken link fails)
	$(MKDOCS) build --strict

docs-serve: $(DOCS_STAMP)  ## serve the documentation at http://127.0.0.1:8000 while you edit it
	$(MKDOCS) serve

clean:  ## remove the virtual environment, run outputs and the built site
	rm -rf $(VENV) outputs multirun site

# --- Run on a cluster (README "Run on a cluster") -------------------------------------
# The cluster token: every Ray node and client of the cluster shares it (Ray's token
# authentication, RAY_AUTH_MODE=token). Created on first use, readable by you only.
RAY_TOKEN_FILE ?= $(HOME)/.ray/auth_token
# docker/docker-compose.yml: VARIANT=gpu|cpu image, WORKERS worker containers (on one GPU
# machine one worker sees every GPU, so 1 is the default there).
VARIANT ?= gpu
WORKERS ?= $(if $(filter cpu,$(VARIANT)),2,1)
COMPOSE ?= docker compose
COMPOSE_PROJECT = RAY_AUTH_TOKEN="$${RAY_AUTH_TOKEN:-$$(cat $(RAY_TOKEN_FILE) 2>/dev/null)}" VARIANT=$(VARIANT) \
	$(COMPOSE) -p garay -f docker/docker-compose.yml
# make submit: the dashboard/job API of the cluster (compose publishes it here; for
# `ray up` run `ray dashboard docker/cluster.yaml`, for KubeRay `kubectl port-forward`).
RAY_DASHBOARD ?= http://127.0.0.1:8265
# Where the run directory goes, on the head (the images' /outputs; Hydra fills ${now:...}).
RUN_DIR ?= /outputs/$${now:%Y-%m-%d}/$${now:%H-%M-%S}
# --working-dir . uploads this folder (less .gitignore'd files and these) for relative data
# paths; the cluster runs the garay installed in its image, so the source stays here.
SUBMIT_RUNTIME_ENV ?= {"excludes": ["/garay/", "/conf/", "/tests/", "/benchmarks/", "/docker/", "/.ci/", "/.git/"]}

.PHONY: cluster-up cluster-down submit

$(RAY_TOKEN_FILE):
	mkdir -p "$(dir $@)"
	umask 077 && $(PYTHON) -c "import secrets; print(secrets.token_hex(32), end='')" > "$@"

cluster-up: $(RAY_TOKEN_FILE)  ## start a Ray cluster in Docker: a head and WORKERS workers (VARIANT=gpu|cpu)
	mkdir -p outputs
	$(COMPOSE_PROJECT) $(if $(filter cpu,$(VARIANT)),--profile cpu up -d --build --scale worker=0 --scale worker-cpu=$(WORKERS),up -d --build --scale worker=$(WORKERS))
	@echo "Ray dashboard: $(RAY_DASHBOARD) (token: $(RAY_TOKEN_FILE)); run directories: ./outputs"

cluster-down:  ## stop and remove the Docker Ray cluster
	$(COMPOSE_PROJECT) --profile cpu down --remove-orphans

submit: $(STAMP)  ## run garay on the cluster at RAY_DASHBOARD (ray job submit); ARGS=overrides
	RAY_AUTH_MODE=token RAY_AUTH_TOKEN_PATH="$(RAY_TOKEN_FILE)" $(BIN)/ray job submit --address $(RAY_DASHBOARD) \
		--working-dir . --runtime-env-json '$(SUBMIT_RUNTIME_ENV)' \
		-- garay cluster.address=auto 'hydra.run.dir=$(RUN_DIR)' $(ARGS)
