# Everyday commands. `make run` = pipeline then service; `make test` = every test.
# Offline? Point the download stage at a local copy: MOVIEREC_DATA_MIRROR=<folder> make run
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PATH := $(abspath $(BIN)):$(PATH)
export MLFLOW_SERVER_ENABLE_JOB_EXECUTION ?= false

.PHONY: install params pipeline run serve test ui clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

params: install  ## regenerate params.yaml from conf/
	$(BIN)/python -m pipeline.params

pipeline: params  ## dvc repro: download -> filter -> reindex -> train -> evaluate -> register
	$(BIN)/dvc repro

run: pipeline

test: install
	$(BIN)/python -m pytest

ui: install  ## MLflow UI on 127.0.0.1:5000, light enough for 2 cores
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(abspath mlflow.db) --host 127.0.0.1 --port 5000 --workers 1

clean:
	rm -rf data/raw/*/ data/interim/*.parquet data/processed/*.parquet models reports/*.json
