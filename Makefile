# Two promises: `make run` serves the demo, `make test` runs the whole suite. Both install first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SYSTEM_PACKAGES := chromium espeak-ng sox
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install system-deps run test lint format bench bench-fanout daphne uvicorn worker beat clean

$(STAMP): requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

# Browser tests drive Debian's Chromium; audio tests synthesise speech with espeak-ng and sox.
system-deps:
	@missing=""; for cmd in $(SYSTEM_PACKAGES); do command -v $$cmd >/dev/null || missing="$$missing $$cmd"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(SYSTEM_PACKAGES); \
	fi

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py runserver $(HOST):$(PORT)

test: install system-deps
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install
	@ls bench/*.py >/dev/null 2>&1 && for b in bench/*.py; do case $$b in *_seed.py) continue;; esac; \
		echo "== $$b"; $(PY) $$b || exit 1; done

# Listeners per Space at p99 <= 150 ms under Daphne and uvicorn: a scratch database on the local PostgreSQL
# (see bench/fanout.py); starts its own Redis unless REDIS_URL is set.
bench-fanout: install
	$(PY) bench/fanout.py

# The production shape, one process each (see README): needs DATABASE_URL and REDIS_URL.
daphne: install
	$(VENV)/bin/daphne -b $(HOST) -p $(PORT) spaces_site.asgi:application

# The live socket for large Spaces: the same ASGI application under uvicorn (see rooms/PROTOCOL.md).
uvicorn: install
	$(VENV)/bin/uvicorn spaces_site.asgi:application --host $(HOST) --port $(PORT) \
		--loop uvloop --http httptools --ws websockets --ws-per-message-deflate false --lifespan off --no-access-log

# Every queue: `captions` and `recordings` (one long task per live Space each, see captions/README.md and
# README "Recordings and replays") and the default `celery`.
worker: install
	$(VENV)/bin/celery -A spaces_site worker -Q captions,recordings,celery --loglevel=info

beat: install
	$(VENV)/bin/celery -A spaces_site beat --loglevel=info

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache
