# The two commands of the README: `make repro` and `make test`. Both set up .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(abspath $(VENV))/bin
STAMP := $(VENV)/.installed-stamp

export PATH := $(BIN):$(PATH)
export DVC_NO_ANALYTICS := 1
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 120

.PHONY: setup init repro test bench clean-data

setup: $(STAMP)

# torch==2.13.0 resolves to the CPU wheel on CPU machines; GPU users install their CUDA build first.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# A checkout without git or DVC metadata (e.g. a source tarball) gets both.
init: setup
	@test -d .git || (git init --quiet && echo "initialised git")
	@test -f .dvc/config || ($(BIN)/dvc init --quiet && echo "initialised DVC")
	@$(BIN)/dvc config core.analytics false

repro: init
	$(BIN)/dvc repro

test: init
	$(BIN)/python -m pytest -q

bench: init
	$(BIN)/python benchmarks/convert_full.py

clean-data:
	rm -rf data
