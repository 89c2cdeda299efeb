# The README's two commands: `make run` and `make test`. Both set everything up from nothing.
SHELL := /bin/bash
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
# Byte-compile at install: with PYTHONDONTWRITEBYTECODE set, every start would recompile.
export UV_COMPILE_BYTECODE := 1

.PHONY: install run test lint fmt unit bench clean

install: $(VENV)/.installed

# uv itself is pinned and kept in a private venv, so a machine needs only python3 >= 3.11.
$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python python3
	touch $@

run: install
	$(BIN)/ctrlops demo

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/codespell src tests bench README.md CHANGELOG.md

fmt: install
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

test: lint
	$(BIN)/pytest

unit: install
	$(BIN)/pytest tests/unit

clean:
	rm -rf $(VENV) $(TOOLS) .mypy_cache .pytest_cache .ruff_cache
