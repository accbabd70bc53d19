# The two commands a new user needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format check clean stack-prod bench bench-quick

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python requirements/base.txt requirements/dev.txt requirements/prod.txt
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements/dev.txt -r requirements/prod.txt
	touch $(STAMP)

## run: the whole stack on http://localhost:8000 (Redis, a worker, the API), Ctrl-C stops it
run: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python -m devstack run --skip-migrate

## test: the whole suite (SQLite + embedded Redis unless DATABASE_URL / REDIS_URL are set)
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## lint: ruff, Django's checks, and no missing migrations
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/hadolint docker/Dockerfile

## stack-prod: nginx on :8080, two granian api processes, the events server, two workers,
## the machine's PostgreSQL (DATABASE_URL, default database `tanka` on 127.0.0.1) and Redis;
## Ctrl-C stops it
stack-prod: $(STAMP)
	$(BIN)/python -m devstack prod $(STACK_ARGS)

$(VENV)/.bench-installed: $(STAMP) requirements/bench.txt
	$(BIN)/python -m pip install --quiet -r requirements/bench.txt
	touch $@

## bench: the benchmark (about 15 minutes); writes bench/results/ and bench/RESULTS.md
bench: $(VENV)/.bench-installed
	$(BIN)/python -m bench $(BENCH_ARGS)

## bench-quick: the same with short runs and one round (a smoke run, not figures to publish)
bench-quick: $(VENV)/.bench-installed
	BENCH_QUICK=1 $(BIN)/python -m bench $(BENCH_ARGS)

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# Reliability at the larger sizes (CI runs the same tests smaller, inside `make test`).
.PHONY: fuzz faults load-local load-prod reliability

## fuzz: the contract fuzzing with many more cases per operation and a fresh seed each run
fuzz: $(STAMP)
	FUZZ_MAX_EXAMPLES=$${FUZZ_MAX_EXAMPLES:-60} FUZZ_SEED=$${FUZZ_SEED:-$$(date +%s)} \
		$(BIN)/python -m pytest -n0 tests/system/test_fuzz_contract.py

## faults: Redis and PostgreSQL outages, and workers killed and restarted under 1000 jobs
faults: $(STAMP)
	FAULT_JOBS=$${FAULT_JOBS:-1000} $(BIN)/python -m pytest -n0 -m "system" \
		tests/system/test_faults.py tests/system/test_worker_faults.py

## load-local: the `make run` stack on SQLite under 16 clients for 60 s
load-local: $(STAMP)
	LOAD_CLIENTS=$${LOAD_CLIENTS:-16} LOAD_SECONDS=$${LOAD_SECONDS:-60} \
		$(BIN)/python -m pytest -n0 tests/system/test_load_local.py

## load-prod: the production topology (nginx, two granian api processes, two workers, the
## machine's PostgreSQL and Redis) under 64 clients for 60 s
load-prod: $(STAMP)
	LOAD_PROD_CLIENTS=$${LOAD_PROD_CLIENTS:-64} LOAD_PROD_SECONDS=$${LOAD_PROD_SECONDS:-60} \
		$(BIN)/python -m pytest -n0 tests/system/test_topology.py -k load

## reliability: all four, then the security suite
reliability: fuzz faults load-local load-prod
	$(BIN)/python -m pytest -n0 tests/test_security.py apps/core/tests/test_strict_input.py
