# Coffee Chat: `make demo` runs a real cycle on a generated organisation; `make test` runs every check.
# Both create .venv and install the project into it first, so a fresh machine needs only Python 3.11+ and make.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo test lint typecheck serve bench clean browser-deps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/coffeechat demo

test: lint browser-deps
	$(BIN)/pytest

# The browser tests drive Debian's Chromium (tests/web/test_browser.py); install it when it is missing
# (CI runs as root; elsewhere run `sudo make browser-deps` once).
browser-deps:
	@test -x /usr/bin/chromium || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null; }

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy

serve: $(STAMP)
	@test -f demo/config.toml || $(BIN)/coffeechat demo
	$(BIN)/coffeechat --config demo/config.toml serve

# bench/web.py needs gunicorn (the server extra), PostgreSQL on 127.0.0.1:5432 (user postgres, trust) and wrk
# (it installs the Debian package when run as root).
bench: $(STAMP)
	$(BIN)/python bench/pairing.py
	$(BIN)/python bench/availability.py
	$(BIN)/python -m pip install --quiet -e '.[server]'
	$(BIN)/python bench/web.py

clean:
	rm -rf $(VENV) demo .pytest_cache .ruff_cache .mypy_cache .hypothesis
