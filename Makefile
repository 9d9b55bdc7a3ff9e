# tierbench — every target installs what it needs on first use (into .venv), then runs.
#
# Torch: TORCH_SPEC is installed before the project. The pinned default takes the CPU wheel that lies on
# machines with a local wheel folder, and PyPI's default (CUDA) build elsewhere. CPU-only machines
# without the local wheel can save a multi-GB download with
#   make test TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
# and GPU users can pick a CUDA build with, e.g., TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX_URL ?=
SUITE ?= benchmarks/suites/default.yaml
BENCH_ARGS ?=
PYTEST_ARGS ?=
MLFLOW_TRACKING_URI ?= sqlite:///mlflow.db
UI_PORT ?= 5000
QUICK ?=
STAMP := $(VENV)/.tierbench-installed
PIP := $(BIN)/python -m pip --disable-pip-version-check --no-input -q

.PHONY: install bench test test-slow lint ui perf cluster-validate cluster-up cluster-bench cluster-down clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing $(TORCH_SPEC) and tierbench into $(VENV) (first use only)"
	$(PIP) install $(if $(TORCH_INDEX_URL),--index-url $(TORCH_INDEX_URL)) "$(TORCH_SPEC)"
	$(PIP) install -e ".[dev]"
	@touch $@

bench: $(STAMP)
	$(BIN)/tierbench bench $(SUITE) $(BENCH_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

# pytest exits 5 when no test carries the marker: that is not a failure.
test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS) || [ $$? -eq 5 ]

lint: $(STAMP)
	$(BIN)/ruff check platform tiers tests benchmarks
	$(BIN)/ruff format --check platform tiers tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

ui: $(STAMP)
	MLFLOW_TRACKING_URI=$(MLFLOW_TRACKING_URI) $(BIN)/tierbench ui --port $(UI_PORT)

perf: $(STAMP)
	$(BIN)/python benchmarks/perf/run_all.py $(if $(QUICK),--quick)

cluster-validate: $(STAMP)
	$(BIN)/tierbench cluster-validate ray_cluster.yaml

cluster-up: $(STAMP)
	$(BIN)/ray up -y ray_cluster.yaml

cluster-bench: $(STAMP)
	$(BIN)/ray job submit --address http://127.0.0.1:8265 --working-dir . -- tierbench bench $(SUITE) $(BENCH_ARGS)

cluster-down: $(STAMP)
	$(BIN)/ray down -y ray_cluster.yaml

clean:
	rm -rf .tierbench .pytest_cache .ruff_cache .mypy_cache mlruns mlartifacts
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
