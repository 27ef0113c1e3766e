# The two commands of the README: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.core: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.web: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[web]'
	touch $@ $(VENV)/.core

$(VENV)/.test: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.core $(VENV)/.web

demo: $(VENV)/.web
	$(BIN)/tenure demo

test: $(VENV)/.test
	$(BIN)/python -m pytest

lint: $(VENV)/.test
	$(BIN)/ruff check src tests benchmarks

bench: $(VENV)/.core
	$(BIN)/python benchmarks/ingest.py --rows 1000000
	$(BIN)/python benchmarks/engine.py --rows 1000000
	$(BIN)/python benchmarks/predict.py --customers 100000

clean:
	rm -rf tenure-data demo-data tenure-report.html
