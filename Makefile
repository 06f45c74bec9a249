# Two entry points (see README): `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test lint setup lock bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q --require-hashes -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

run: setup
	$(BIN)/sequester demo
	$(BIN)/sequester serve

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy domain api ops projections bench

bench: setup
	$(BIN)/sequester bench crypto

lock:
	uv pip compile pyproject.toml --extra test --extra lint --python-version 3.11 --generate-hashes -o requirements.lock

clean:
	rm -rf $(VENV) var .pytest_cache
