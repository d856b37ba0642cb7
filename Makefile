# One set of verbs: install | demo | test | lint | bench (and test-faults, test-api).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install demo test test-faults test-api test-fast lint bench frontend clean lock

install: $(STAMP) frontend

# The exact versions (with hashes) of requirements.lock, then livedesk itself on top of them.
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

# After changing pyproject.toml's dependencies: resolve '.[dev]' again for every platform
# (pins already in the lock are kept; delete a line to let that package move).
lock: $(STAMP)
	$(BIN)/pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --generate-hashes --universal \
		--python-version 3.11 -o requirements.lock

# ECharts comes from npm and is copied into frontend/static/vendor (no CDN, no hot-linking).
frontend: frontend/static/vendor/echarts.min.js

# Without npm (a bare machine) the panels still work; their chart boxes say charts are missing.
frontend/static/vendor/echarts.min.js: frontend/package.json frontend/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		cd frontend && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build; \
	else \
		echo "npm not found: skipping ECharts (install Node.js for the charts)"; \
	fi

demo: install
	$(BIN)/python -m livedesk.demo

# Two pytest-xdist workers (the machine's two cores; most tests wait on servers and sockets):
# each has its own databases and Redis database, and the multi-process tests run one after
# another on one of them (tests/conftest.py). TEST_WORKERS=0 runs everything in one process.
TEST_WORKERS ?= 2
test: install
	cd frontend && npm test --silent
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

# Redis, PostgreSQL and workers killed, frozen and restarted under a steady stream; the
# servers are throwaway ones on spare ports (needs redis-server and PostgreSQL's binaries).
test-faults: install
	$(BIN)/pytest -m faults tests/faults $(PYTEST_ARGS)

# The operators' API against its own OpenAPI document: schemathesis, every check, an ops token,
# on SQLite and (with LIVEDESK_TEST_DATABASE_URL) PostgreSQL; tests/api/schemathesis.toml.
test-api: install
	$(BIN)/pytest -m api tests/api $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff format --check server tests load_tests migrations
	$(BIN)/ruff check server tests load_tests migrations
	$(BIN)/mypy
	$(BIN)/lint-imports
	cd frontend && npm run --silent check

# The runs behind docs/benchmarks.md (about 45 minutes; PostgreSQL and Redis on 127.0.0.1).
BENCH_PG ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test
STREAM_PG := $(BIN)/python load_tests/bench.py --backend pg --workers 2 --seconds 60 --panels 1000
bench: install
	$(BIN)/python load_tests/bench.py --backend sqlite --rate 1000 --seconds 60 --panels 200
	$(STREAM_PG) --rate 1000
	$(STREAM_PG) --rate 1000 --pipeline-processes 1
	$(STREAM_PG) --rate 3000
	$(STREAM_PG) --rate 3000 --pipeline-processes 1
	$(BIN)/python load_tests/bench_statements.py --batch 75
	$(BIN)/python load_tests/bench_statements.py --batch 500 --batches 20
	$(BIN)/python load_tests/bench_statements.py --batch 75 --warm-up 600
	$(BIN)/python load_tests/bench_analysis.py --rate 1000 --seconds 60
	$(BIN)/python load_tests/bench_analysis.py --rate 1000 --seconds 300
	$(BIN)/python load_tests/bench_sentiment.py
	$(BIN)/python load_tests/bench_import.py --rows 1000000
	LIVEDESK_BENCH_DATABASE_URL=$(BENCH_PG) $(BIN)/python load_tests/bench_import.py \
		--rows 1000000 --backend postgres

clean:
	rm -rf $(VENV) frontend/node_modules frontend/static/vendor livedesk.db* livedesk-demo.db*
