# topics: one command for each everyday job. See README.md.
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 5000
UI_ENV := MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false

.PHONY: install install-all install-server run test lint reproduce ui server bench clean

# Three installs, each recreated when pyproject.toml changes:
#   install         the core (train, track to mlflow.db, classify): no torch, no transformers;
#   install-server  + the full mlflow, for its UI and tracking server;
#   install-all     + every extra (encoder, dask, server) and the dev tools.
CORE_STAMP   := $(VENV)/.core-stamp
SERVER_STAMP := $(VENV)/.server-stamp
ALL_STAMP    := $(VENV)/.all-stamp
install: $(CORE_STAMP)
install-server: $(SERVER_STAMP)
install-all: $(ALL_STAMP)

# The encoder extra's torch, CPU-only: PyPI's Linux torch is the CUDA build (GBs).
# TORCH_INDEX is the index torch and its dependencies come from, PyTorch's CPU wheels
# by default; pip's own configuration (find-links, mirrors) still applies. Set it
# empty to install torch from your pip configuration alone.
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
TORCH       ?= torch>=2.2
PIP         := $(PY) -m pip install -q --disable-pip-version-check

# uv installs in seconds; pip is the fallback. --compile-bytecode writes the .pyc files
# pip writes: without them a process that may not write them (PYTHONDONTWRITEBYTECODE,
# as container images often set) compiles sklearn, mlflow... again at every start
# (measured on a busy 2-core machine: classify 0.44 -> 0.8 s, a config error 7 -> 18 s,
# three subprocess-heavy test files 65 -> 114 s).
define pip_install
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PIP) uv 2>/dev/null \
	  && $(VENV)/bin/uv pip install -q --compile-bytecode --python $(PY) -e '$(1)' \
	  || $(PIP) -e '$(1)'
endef

$(CORE_STAMP): pyproject.toml
	$(call pip_install,.)
	@touch $@

$(SERVER_STAMP): pyproject.toml
	$(call pip_install,.[server])
	@touch $@ $(CORE_STAMP)

# torch first, with pip: uv reads no pip configuration and would take PyPI's build.
$(ALL_STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PIP) --retries 1 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) '$(TORCH)'
	$(call pip_install,.[dev])
	@touch $@ $(SERVER_STAMP) $(CORE_STAMP)

run: install
	$(VENV)/bin/topics run experiments/quickstart.yaml

lint: install-all
	$(VENV)/bin/ruff check topics tests benchmarks
	$(VENV)/bin/ruff format --check topics tests benchmarks
	$(VENV)/bin/mypy topics

# The whole suite, one worker per core (pytest-xdist); the long accuracy runs are
# `make reproduce`.
test: lint
	$(VENV)/bin/pytest -n auto

# The shipped experiments end to end, against their goals and the best peers
# (hours on 2 cores): writes benchmarks/results/reproduce.md. Needs the data root:
#   make reproduce DATA=../shared/data   (or TOPICS_DATA_DIR=...)
#   make reproduce DATA=../shared/data EXPERIMENTS=nyt-cap   (one of them)
reproduce: install-all
	$(PY) benchmarks/reproduce.py $(if $(DATA),--data $(DATA)) $(EXPERIMENTS)

# The embedded store the runs write to by default, browsed locally.
ui: install-server
	$(UI_ENV) $(VENV)/bin/mlflow ui --backend-store-uri sqlite:///mlflow.db \
	  --host 127.0.0.1 --port $(PORT) --workers 1

# A tracking server for a team: SQLite backend, artifacts proxied into a local folder.
# Point runs at it with MLFLOW_TRACKING_URI=http://127.0.0.1:$(PORT) (or tracking.uri);
# for a shared server use a real database: BACKEND=postgresql+psycopg2://user@host/db.
SERVER_DIR ?= mlflow-server
BACKEND    ?= sqlite:///$(abspath $(SERVER_DIR))/mlflow.db
server: install-server
	@mkdir -p $(SERVER_DIR)/artifacts
	$(UI_ENV) $(VENV)/bin/mlflow server --backend-store-uri $(BACKEND) \
	  --artifacts-destination $(abspath $(SERVER_DIR))/artifacts \
	  --host 127.0.0.1 --port $(PORT) --workers 1

# Every benchmark but reproduce; those on real data need the root: make bench DATA=../shared/data
bench: install-all
	@for script in $(filter-out benchmarks/reproduce.py,$(wildcard benchmarks/*.py)); do \
	  echo "== $$script"; $(if $(DATA),TOPICS_DATA_DIR=$(DATA)) $(PY) $$script || exit 1; done

clean:
	rm -rf artifacts mlflow.db mlflow-server .pytest_cache .mypy_cache .ruff_cache
