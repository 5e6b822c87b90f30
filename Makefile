# The two quick-start commands of the README: `make demo` and `make test`.
# Each creates its own virtual environment in .venv and installs yishi into it.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint typecheck bench clean system-deps

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

# Graphviz's `dot` draws SVG diagrams and lets the tests check that our DOT parses.
# Installed with apt when missing (the CI and development machines run as root).
system-deps:
	@command -v dot >/dev/null || (apt-get update -qq && apt-get install -y -qq graphviz >/dev/null) \
	  || echo "warning: could not install graphviz (dot); diagram checks will fail under CI=true"
# The workbench's browser tests drive Debian's Chromium through chromedriver; the CJK
# font makes the screenshots readable. Installed the same way as Graphviz.
	@(command -v chromium >/dev/null && command -v chromedriver >/dev/null \
	  && fc-list 2>/dev/null | grep -qi "Noto Sans CJK") \
	  || (apt-get update -qq && apt-get install -y -qq chromium chromium-driver fonts-noto-cjk >/dev/null) \
	  || echo "warning: could not install chromium; the browser tests will fail under CI=true"
	@# Documents: WeasyPrint needs pango, and HarfBuzz's subsetter (without it WeasyPrint warns,
	@# and the tests turn warnings into errors); PDFs embed Noto CJK (fonts-noto-cjk); the tests
	@# read PDFs back with poppler's pdftotext and pdftoppm.
	@(command -v pdftotext >/dev/null && fc-list :lang=zh | grep -q "Noto" \
	  && ldconfig -p | grep -q libpango-1.0 && ldconfig -p | grep -q libharfbuzz-subset) \
	  || (apt-get update -qq && apt-get install -y -qq fonts-noto-cjk poppler-utils \
	      libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 >/dev/null) \
	  || echo "warning: could not install fonts-noto-cjk, poppler-utils or pango; document checks will fail under CI=true"

demo: install
	$(BIN)/yishi demo

lint: install
	$(BIN)/ruff check engine tests bench
	$(BIN)/ruff format --check engine tests bench

typecheck: install
	$(BIN)/mypy

# -n auto: one pytest-xdist worker per core; --dist worksteal lets an idle worker take
# tests queued on a busy one, so a few long tests do not leave a core waiting.
# Every worker collects every test module, and pytest rewrites each module's asserts
# unless tests/__pycache__ (git-ignored) holds the rewritten module from an earlier
# run; PYTHONDONTWRITEBYTECODE, if set, would stop it being kept, and every run would
# rewrite ~25,000 lines again in each worker (~2.5 s of CPU per worker). A first run
# on a fresh clone gains nothing: both workers rewrite at the same time.
test: system-deps lint typecheck
	cd tests && PYTHONDONTWRITEBYTECODE= ../$(BIN)/python -m pytest -q -p no:cacheprovider \
	  --rootdir=.. -c ../pyproject.toml -n auto --dist worksteal

# docs/actions.md, docs/guards.md and docs/counting.md are generated; a test compares them.
reference: install
	$(BIN)/python -m engine.reference procedures docs

bench: install
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build dist *.egg-info
