# The two quick-start commands of the README: `make demo` and `make test`.
# Each creates its own virtual environment in .venv and installs yishi into it.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Dependencies are installed when pyproject.toml changes; the package itself is
# reinstalled from source (not editable) on every run, so the tests exercise
# what a user would install, schemas included.
$(VENV)/.deps: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet ".[dev]"
	touch $@

install: $(VENV)/.deps
	$(BIN)/pip install --quiet --no-deps --force-reinstall .

demo: install
	$(BIN)/yishi demo

lint: install
	$(BIN)/ruff check engine tests bench
	$(BIN)/ruff format --check engine tests bench

typecheck: install
	$(BIN)/mypy

test: lint typecheck
	cd tests && ../$(BIN)/python -m pytest -q -p no:cacheprovider --rootdir=.. -c ../pyproject.toml

bench: install
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build dist *.egg-info
