# Two commands on a fresh clone: `make demo` and `make test`. Everything else is a building block.
SHELL := /bin/bash
.DEFAULT_GOAL := help

ROOT := $(CURDIR)
VENV ?= $(ROOT)/.venv
PY := $(VENV)/bin/python
STATE := $(ROOT)/.demo
BOOTSTRAP_PYTHON ?= python3

# plugins/ is on Airflow's sys.path; include/ is imported as a package from the repository root.
export PYTHONPATH := $(ROOT):$(ROOT)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__DAGS_FOLDER := $(ROOT)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(ROOT)/plugins
export PATH := $(VENV)/bin:$(PATH)

.PHONY: help venv system-deps lint test test-fast demo drills bench native-up native-down env clean

help:
	@echo "make demo    set everything up and run partnership_ad_codes end to end on the graph sandbox"
	@echo "make test    set everything up and run the whole suite (lint, unit, integration, e2e, drills)"
	@echo "make drills  run the fault drills and print their table"
	@echo "make bench   run the benchmarks (not part of make test)"
	@echo "make native-up / native-down   the production topology without Docker"

$(VENV)/.installed: requirements.txt requirements-test.txt pyproject.toml
	$(BOOTSTRAP_PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-test.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

venv: $(VENV)/.installed

# Debian's chromium for the browser test (Playwright drives it; no browser download).
system-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

lint: venv
	$(VENV)/bin/ruff check dags plugins include tests
	$(VENV)/bin/ruff format --check dags plugins include tests

test: venv system-deps lint
	mkdir -p $(STATE)
	$(PY) -m pytest tests

test-fast: venv
	$(PY) -m pytest tests -m "not e2e and not drill and not browser"

demo: venv
	mkdir -p $(STATE)
	$(PY) -m include.demo

drills: venv
	mkdir -p $(STATE)
	$(PY) -m pytest tests/drills -m drill -q
	$(PY) -m include.drills.report

bench: venv
	mkdir -p $(STATE)/bench
	$(PY) -m include.bench

native-up: venv
	$(PY) -m include.topology up

native-down:
	$(PY) -m include.topology down

# .env for docker compose: .env.example with fresh secrets (standard library only; never overwrites .env).
env:
	$(BOOTSTRAP_PYTHON) -m include.topology.compose_env

clean:
	rm -rf $(STATE)
