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

.PHONY: setup init repro test bench clean-data server worker deploy deploy-gpu

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

# Prefect (pipelines/, prefect.yaml, prefect.toml): a server on loopback with its database in
# .prefect/, a worker for this checkout's work pool, and the deployments. Run each in its own shell.
# GPU machine: `make deploy-gpu` and `make worker POOL=h36m-gpu`, with PREFECT_API_URL pointing
# at the server (e.g. through `ssh -L 4200:127.0.0.1:4200 <server host>`).
PREFECT_HOST ?= 127.0.0.1
PREFECT_PORT ?= 4200
PREFECT_API_URL ?= http://127.0.0.1:$(PREFECT_PORT)/api
POOL ?= h36m-local
PREFECT := PREFECT_HOME=$(CURDIR)/.prefect PREFECT_API_URL=$(PREFECT_API_URL) $(BIN)/prefect

server: setup
	$(PREFECT) server start --host $(PREFECT_HOST) --port $(PREFECT_PORT)

worker: setup
	$(PREFECT) worker start --pool $(POOL) --type process

# One DVC workspace takes one flow run at a time: each pool's concurrency limit is 1.
# The pools are those named in prefect.yaml.
deploy: setup
	$(PREFECT) work-pool create h36m-local --type process --overwrite
	$(PREFECT) work-pool set-concurrency-limit h36m-local 1
	PROJECT_ROOT=$(CURDIR) $(PREFECT) --no-prompt deploy --name h36m-pipeline/local --name h36m-sweep/local

deploy-gpu: setup
	$(PREFECT) work-pool create h36m-gpu --type process --overwrite
	$(PREFECT) work-pool set-concurrency-limit h36m-gpu 1
	PROJECT_ROOT=$(CURDIR) $(PREFECT) --no-prompt deploy --name h36m-pipeline/gpu
