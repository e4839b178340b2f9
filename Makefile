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

.PHONY: help install run test test-slow clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q "torch==$(TORCH_VERSION)" $(if $(TORCH_INDEX_URL),--index-url $(TORCH_INDEX_URL))
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install garay with its test extras

run: $(STAMP)  ## run the main job (the study's settings, synthetic data, local Ray); ARGS=overrides
	$(BIN)/garay $(ARGS)

test: $(STAMP)  ## run the test suite (not the slow tests)
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)  ## run the slow tests only
	$(BIN)/python -m pytest -q -m slow

clean:  ## remove the virtual environment and run outputs
	rm -rf $(VENV) outputs multirun
