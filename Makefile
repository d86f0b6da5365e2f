# Two commands on a fresh machine: `make run` and `make test`. Both install first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint format clean cards bench

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/presence-bot serve --host 127.0.0.1 --port 3978

# Three pytest-xdist workers on the 2-CPU machine CI and the figures in README.md use: the process and
# browser tests share one worker (tests/conftest.py), which often waits on its processes, so a third
# keeps both CPUs busy (measured: 332 s of test time with two, 305 s with three). `make test
# TEST_WORKERS=4` for a bigger machine.
TEST_WORKERS ?= 3

test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup

lint: $(STAMP)
	$(BIN)/ruff check bot cards tests bench
	$(BIN)/ruff format --check bot cards tests bench
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format bot cards tests bench
	$(BIN)/ruff check --fix bot cards tests bench

# Regenerate docs/cards/*.png with Microsoft's Adaptive Cards renderer in headless Chromium.
cards: $(STAMP)
	$(BIN)/python -m tests.render

# Timer lateness, memory per hold and start-up time; then the cost per command against a bare echo
# bot (bench/turns.py; `python -m bench.turns --profile` adds a profile); the watcher with 20,000 watches
# (bench/watch.py). Figures in docs/performance.md. Last, the soak: the fuzzer's 10,000 hostile activities
# and two replicas with 1,000 holds (make test runs them with 3,000 and 400), printing their figures.
bench: $(STAMP)
	$(BIN)/python -m bench.timers
	$(BIN)/python -m bench.turns
	$(BIN)/python -m bench.watch
	FUZZ_ACTIVITIES=10000 REPLICA_HOLDS=1000 $(BIN)/python -m pytest -s -q \
		tests/processes/test_fuzz.py tests/processes/test_replicas.py

include tests/playground.mk

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
