# Two commands from a fresh clone: `make demo` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_WORKERS ?= 2

.PHONY: setup demo test lint bench bench-10m bench-load postgres sandbox soak clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# The test suite starts its own PostgreSQL server; install the server binaries when the machine lacks them.
postgres:
	@if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
	    || [ -n "$$SYNCER_TEST_POSTGRES_URL" ]; then :; else \
	  echo "installing PostgreSQL (apt)"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null; \
	fi

demo: setup
	$(BIN)/syncer demo

sandbox: setup
	$(BIN)/syncer sandbox

test: setup postgres
	$(BIN)/pytest -n $(PYTEST_WORKERS) -q

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# syncer against a bare script doing the same work on the same files, interleaved, as whole processes (docs/benchmarks.md).
bench: setup
	nice -n 10 $(BIN)/python bench/compare.py --rows 1000000

bench-10m: setup
	nice -n 10 $(BIN)/python bench/compare.py --rows 10000000 --skip first-sync --skip effects --skip start

# Crash soak: 300 real `syncer run` and `syncer daemon` processes killed with SIGKILL at random instants; prints the tally.
soak: setup
	$(BIN)/python -m tests.reliability.soak --kills 300

# Optional, about twenty minutes: a million accounts, 20 cycles of 5% changes under HubSpot's rate limit.
bench-load: setup
	nice -n 10 $(BIN)/python bench/load.py --rows 1000000 --cycles 20 --change 0.05

clean:
	rm -rf $(VENV) .syncer demo .mypy_cache .ruff_cache .pytest_cache
