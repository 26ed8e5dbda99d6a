# topics: one command for each everyday job. See README.md.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PORT   ?= 5000
UI_ENV := MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false

.PHONY: install run test lint ui server bench clean

install: $(STAMP)

# The encoder extra's torch, installed first with pip, which sees this machine's
# CPU-only wheel (pip.conf find-links); PyPI's default build brings GBs of CUDA.
TORCH  ?= torch==2.13.0

# Recreated when pyproject.toml changes. uv installs in seconds; pip is the fallback.
$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check '$(TORCH)'
	@$(PY) -m pip install -q --disable-pip-version-check uv 2>/dev/null \
	  && $(VENV)/bin/uv pip install -q --python $(PY) -e '.[dev]' \
	  || $(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

run: install
	$(VENV)/bin/topics run experiments/quickstart.yaml

lint: install
	$(VENV)/bin/ruff check topics tests benchmarks
	$(VENV)/bin/ruff format --check topics tests benchmarks
	$(VENV)/bin/mypy topics

test: lint
	$(VENV)/bin/pytest

# The embedded store the runs write to by default, browsed locally.
ui: install
	$(UI_ENV) $(VENV)/bin/mlflow ui --backend-store-uri sqlite:///mlflow.db \
	  --host 127.0.0.1 --port $(PORT) --workers 1

# A tracking server for a team: SQLite backend, artifacts proxied into a local folder.
# Point runs at it with MLFLOW_TRACKING_URI=http://127.0.0.1:$(PORT) (or tracking.uri);
# for a shared server use a real database: BACKEND=postgresql+psycopg2://user@host/db.
SERVER_DIR ?= mlflow-server
BACKEND    ?= sqlite:///$(abspath $(SERVER_DIR))/mlflow.db
server: install
	@mkdir -p $(SERVER_DIR)/artifacts
	$(UI_ENV) $(VENV)/bin/mlflow server --backend-store-uri $(BACKEND) \
	  --artifacts-destination $(abspath $(SERVER_DIR))/artifacts \
	  --host 127.0.0.1 --port $(PORT) --workers 1

bench: install
	@for script in $(wildcard benchmarks/*.py); do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf artifacts mlflow.db mlflow-server .pytest_cache .mypy_cache .ruff_cache
