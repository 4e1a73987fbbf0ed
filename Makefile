# Two promises: `make run` serves the demo, `make test` runs the whole suite. Both install first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SYSTEM_PACKAGES := chromium espeak-ng sox redis-server
HOST ?= 127.0.0.1
PORT ?= 8000
# Pool processes of `make worker` (the `celery` queue) and `make worker-captions` (see README, "Sizing the workers").
CELERY_CONCURRENCY ?= 2
CAPTIONS_CONCURRENCY ?= 2

.PHONY: install system-deps run test lint format bench bench-fanout static daphne uvicorn worker worker-captions beat clean

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

# The production shape, one process each (see README): needs DATABASE_URL and REDIS_URL. The servers collect the
# static files first (the manifest the production settings serve them from); WhiteNoise serves them in every shape.
static: install
	$(PY) manage.py collectstatic --noinput -v 0

daphne: static
	$(VENV)/bin/daphne -b $(HOST) -p $(PORT) spaces_site.asgi:application

# The live socket for large Spaces: the same ASGI application under uvicorn (see rooms/PROTOCOL.md).
uvicorn: static
	$(VENV)/bin/uvicorn spaces_site.asgi:application --host $(HOST) --port $(PORT) \
		--loop uvloop --http httptools --ws websockets --ws-max-size 1048576 --ws-per-message-deflate false --lifespan off --no-access-log

# The default `celery` queue (Stripe events, refunds, notifications, reminders, sweeps) and the `captions` queue
# (live captioning, see captions/README.md) each get workers of their own, so live Spaces never starve money.
worker: install
	$(VENV)/bin/celery -A spaces_site worker -Q celery --concurrency=$(CELERY_CONCURRENCY) -n celery@%h --loglevel=info

worker-captions: install
	$(VENV)/bin/celery -A spaces_site worker -Q captions --concurrency=$(CAPTIONS_CONCURRENCY) -n captions@%h --loglevel=info

beat: install
	$(VENV)/bin/celery -A spaces_site beat --loglevel=info

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache
