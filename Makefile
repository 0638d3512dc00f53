# Everyday commands. `make run` = pipeline, then the service; `make test` = every test.
# Offline? Point the download stage at a local copy: MOVIEREC_DATA_MIRROR=<folder> make run
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
WEB_DEPS := web/node_modules/.installed
WEB_OUT := web/out/index.html
WEB_SRC := $(shell find web/src -type f 2>/dev/null) web/package.json web/next.config.mjs web/tailwind.config.ts
export PATH := $(abspath $(BIN)):$(PATH)
export NEXT_TELEMETRY_DISABLED := 1
export MLFLOW_SERVER_ENABLE_JOB_EXECUTION ?= false

.PHONY: install install-test params pipeline web api-types serve run lint test test-python test-web test-experiments ui clean
.PHONY: push tracking-server tracking-server-stop

# uv installs (about 30 s with bytecode compiled; tools/install.py hands it pip's settings, and falls back to pip)
$(STAMP): pyproject.toml tools/install.py
	test -x $(BIN)/python || $(PYTHON) -m venv --without-pip $(VENV)
	$(PYTHON) tools/install.py --python $(BIN)/python -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(PYTHON) tools/install.py --python $(BIN)/python -e '.[test]'
	touch $@

install: $(STAMP)  ## what the pipeline and the service need

install-test: $(TEST_STAMP)  ## that and the test tools (pytest, Playwright, ruff, mypy): make test

params: install  ## regenerate params.yaml from conf/ (the one hand-edited config)
	$(BIN)/python -m pipeline.params

# params.yaml when a conf/ file is newer (a fresh clone's is current: no 4 s Python start for nothing)
params.yaml: $(shell find conf -name '*.yaml' 2>/dev/null) | $(STAMP)
	$(BIN)/python -m pipeline.params

pipeline: params.yaml  ## dvc repro: download, filter, reindex, train, evaluate, register (outputs pulled from the DVC remote when it has them)
	@# --pull: a stage whose outputs are only missing takes them from the remote (`make push` put them there);
	@# a stage the remote cannot serve runs. No remote configured: plain repro.
	@# register runs on every repro (always_changed): a fresh clone or a deleted mlflow.db gets its version there
	if $(BIN)/dvc remote default >/dev/null 2>&1; then $(BIN)/dvc repro --pull; else $(BIN)/dvc repro; fi

$(WEB_DEPS): web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	touch $@

$(WEB_OUT): $(WEB_DEPS) $(WEB_SRC)
	cd web && npm run build

web: $(WEB_OUT)  ## build the page (static export in web/out) when missing or stale

api-types: install $(WEB_DEPS)  ## after an API change: web/openapi.json and web/src/lib/api-types.ts from the service's spec
	$(BIN)/python web/scripts/openapi.py

serve: install web  ## the service on http://127.0.0.1:8000/ (gunicorn)
	$(BIN)/python -m serve

run:  ## the whole job: the pipeline and the page build side by side, then the service (SERVE_ARGS='--port 8001')
	$(MAKE) --no-print-directory -j2 pipeline web
	$(BIN)/python -m serve $(SERVE_ARGS)

# two workers, a test file each at a time (--dist loadfile: a file's module fixtures are built once):
# most of the suite waits on subprocesses and servers, so two cores finish it in about 12 min, not 19
TEST_WORKERS ?= 2
test-python: install-test web
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

test-experiments: install-test  ## dvc exp run --queue end to end (minutes; not part of make test)
	$(BIN)/python -m pytest -m experiments

test-web: $(WEB_DEPS)
	cd web && npm test

lint: install-test  ## ruff (pyproject.toml [tool.ruff]) and mypy over src/, serve/, pipeline/: zero findings
	$(BIN)/ruff check .
	$(BIN)/mypy

test: lint test-web test-python  ## everything: lint and types, page components (Vitest), then pytest (unit, service, browser, e2e)

ui: install  ## MLflow UI of the configured store (conf/mlflow, MLFLOW_TRACKING_URI) on 127.0.0.1:5001; a tracking server has its own
	MOVIEREC_ROOT=$(CURDIR) $(BIN)/python -m movierec.registry.ui --port 5001

push: install  ## after a run: its data and models to the DVC remote (docs/team.md), so other clones pull instead of retraining
	$(BIN)/dvc push

TRACKING_DIR ?= .tracking
tracking-server: install  ## a team's MLflow tracking server on 127.0.0.1:5002: PostgreSQL + proxied artifacts in $(TRACKING_DIR)/ (docs/team.md)
	$(BIN)/python -m movierec.registry.tracking_server start --folder $(TRACKING_DIR)

tracking-server-stop: install
	$(BIN)/python -m movierec.registry.tracking_server stop --folder $(TRACKING_DIR)

clean:
	rm -rf data/raw/*/ data/interim/*.parquet data/processed/*.parquet models multirun web/out

# After `dvc exp run -S key=value` (applied to the workspace): keep it or drop it (docs/workflow.md)
.PHONY: keep-exp drop-exp
keep-exp: install  ## the applied experiment's values into their conf/ files; then commit conf/, params.yaml, dvc.lock, reports/
	$(BIN)/python -m pipeline.experiment keep

drop-exp: install  ## params.yaml, dvc.lock, models, data and reports back to the last commit
	$(BIN)/python -m pipeline.experiment drop
