# Two commands on a fresh clone:  `make run` (set up + dvc repro)  and  `make test`.
# The virtual environment is created on first use from the pinned lock file.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements/lock.txt pyproject.toml | cksum | cut -d' ' -f1)

# No traffic leaves the machine.
export MLFLOW_DISABLE_TELEMETRY := true
export GX_ANALYTICS_ENABLED := false
export DVC_NO_ANALYTICS := 1
export DO_NOT_TRACK := 1
export TF_CPP_MIN_LOG_LEVEL := 2
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: setup run exps test test-all bench ui team-up team-down clean-env

$(STAMP): requirements/lock.txt pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.11 is needed (python3.11 or python3 on PATH)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements/lock.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $@

## setup: only create the environment (run and test do it on first use)
setup: $(STAMP)

## run: create the environment and run the whole pipeline (dvc repro) on the embedded default data
run: $(STAMP)
	dvc config core.analytics false
	dvc repro
	@echo
	@rrlfeh summary

## exps: the experiments side by side (headline metrics and the params that differ; fits 200 columns)
exps: $(STAMP)
	dvc exp show --only-changed --keep '(stars|rrab|rrc)\..*'

## test: the test suite CI runs (the import layers, then every test but the slow accuracy checks)
test: $(STAMP)
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -m "not slow" -q

## test-all: every test, including the slow accuracy bar (needs the paper-scale pipeline)
test-all: $(STAMP)
	$(BIN)/python -m pytest -q

## bench: the benchmarks in bench/ (print JSON)
bench: $(STAMP)
	$(BIN)/python -m bench.preprocess
	$(BIN)/python -m bench.predict

## ui: the MLflow UI over the project's store
ui: $(STAMP)
	@echo "open http://127.0.0.1:5000/#/experiments?workflowType=machine_learning (the Model training view)"
	mlflow ui --backend-store-uri sqlite:///$(CURDIR)/mlflow.db --host 127.0.0.1 --port 5000

## team-up: PostgreSQL + mlflow server (proxied artifacts) on 127.0.0.1 for team mode (bin/team-services)
team-up: $(STAMP)
	bin/team-services start

## team-down: stop them (the database and artifacts are kept)
team-down:
	bin/team-services stop

clean-env:
	rm -rf $(VENV)
