# kstore: `make up` starts a cluster, `make test` runs the tests (see README.md).
#   make up [NODES=20] [CONFIG=configs/x.yaml] [STATE_DIR=dir]
#   make status | make down [KEEP=1] | make test | make lint | make bench

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Reinstalled when pyproject.toml changes; the install is editable, so code changes need nothing.
INSTALLED := $(VENV)/.installed

STATE_FLAG := $(if $(STATE_DIR),--state-dir $(STATE_DIR))

.PHONY: up down status test lint bench install

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

install: $(INSTALLED)

up: $(INSTALLED)
	$(BIN)/kstore up $(if $(CONFIG),--config $(CONFIG)) $(if $(NODES),--nodes $(NODES)) $(STATE_FLAG)

down: $(INSTALLED)
	$(BIN)/kstore down $(if $(filter-out 0,$(KEEP)),--keep) $(STATE_FLAG)

status: $(INSTALLED)
	$(BIN)/kstore status $(STATE_FLAG)

lint: $(INSTALLED)
	$(BIN)/ruff check .

test: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/pytest -q

bench: $(INSTALLED)
	$(BIN)/python -m bench
