# Two promises: `make run` serves the demo, `make test` runs the whole suite. Both install first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Two stamps: `make run` needs only the runtime requirements; tests, lint and benches add the dev ones.
RUNTIME_STAMP := $(VENV)/.runtime-installed
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SYSTEM_PACKAGES := chromium fonts-noto-color-emoji espeak-ng sox redis-server
HOST ?= 127.0.0.1
PORT ?= 8000
# Pool processes of `make worker` (the `celery` queue) and `make worker-recordings`; a captions worker is one
# process holding several Spaces (see README, "Sizing the workers").
CELERY_CONCURRENCY ?= 2
RECORDINGS_CONCURRENCY ?= 2

.PHONY: install install-runtime whisper-base system-deps run test lint format bench bench-fanout static daphne uvicorn worker worker-captions worker-recordings beat clean

# --no-compile: byte-compiling every installed module doubles the install's time; Python compiles what it
# imports on first use and keeps the result, so the environment must not forbid writing it.
unexport PYTHONDONTWRITEBYTECODE
PIP_INSTALL := $(VENV)/bin/pip install --quiet --disable-pip-version-check --no-compile

# pip asks the package index about every requirement even when it holds them all (10 of a fresh install's
# 16 s here), so the runtime set is kept as a wheelhouse outside the clone: a fresh clone installs from it
# without asking, and a changed requirements.txt tops it up.
WHEELHOUSE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/spaces/wheels

$(RUNTIME_STAMP): requirements.txt
	[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) --no-index --find-links $(WHEELHOUSE) -r requirements.txt 2>/dev/null \
		|| { $(VENV)/bin/pip wheel --quiet --disable-pip-version-check -w $(WHEELHOUSE) -r requirements.txt \
		&& $(PIP_INSTALL) --no-index --find-links $(WHEELHOUSE) -r requirements.txt; }
	touch $(RUNTIME_STAMP)

$(STAMP): $(RUNTIME_STAMP) requirements-dev.txt requirements-whisper-base.txt
	$(PIP_INSTALL) -r requirements-dev.txt
	touch $(STAMP)

install-runtime: $(RUNTIME_STAMP)

install: $(STAMP)

# The larger caption model, for captions workers run with CAPTIONS_WHISPER_MODEL=base (captions/README.md).
whisper-base: install-runtime
	$(PIP_INSTALL) -r requirements-whisper-base.txt
	$(PY) -m captions.whisper_models base

# Browser tests drive Debian's Chromium (with an emoji font: the reactions are emoji); audio tests synthesise
# speech with espeak-ng and sox.
system-deps:
	@missing=""; for package in $(SYSTEM_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$package 2>/dev/null | grep -q "ok installed" || missing="$$missing $$package"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(SYSTEM_PACKAGES); \
	fi

run: install-runtime
	$(PY) manage.py seed_demo --migrate
	$(PY) manage.py runserver $(HOST):$(PORT)

# Lint first, so CI (.ci/run runs `make test`) asserts the import contracts and the types too.
# The fault suite kills and restarts Redis and server processes it started itself; it runs in a pytest
# process of its own so that nothing the rest of the suite left in this process (event loops, channel
# layers, hubs) stands between it and the restarted Redis.
test: install system-deps lint
	$(PY) -m pytest --ignore=tests/faults --durations=25
	$(PY) -m pytest tests/faults

# Style, the import structure (import-linter's contracts in pyproject.toml) and types (mypy with django-stubs
# on the modules listed in pyproject.toml).
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install
	@ls bench/*.py >/dev/null 2>&1 && for b in bench/*.py; do case $$b in *_seed.py|*/prod_shape.py) continue;; esac; \
		echo "== $$b"; $(PY) $$b || exit 1; done

# Listeners per Space at p99 <= 150 ms under Daphne and uvicorn: a scratch database on the local PostgreSQL
# (see bench/fanout.py); starts its own Redis unless REDIS_URL is set.
bench-fanout: install
	$(PY) bench/fanout.py

# The production shape, one process each (see README): needs DATABASE_URL and REDIS_URL. The servers collect the
# static files first (the manifest the production settings serve them from); WhiteNoise serves them in every shape.
static: install
	$(PY) manage.py collectstatic --noinput -v 0

# A socket's handshake may wait behind a storm of joins (its session and account are read first): Daphne's 5 s
# default dropped three quarters of a 2,000-socket storm, silently (rooms/PROTOCOL.md "Joins and counts").
daphne: static
	$(VENV)/bin/daphne -b $(HOST) -p $(PORT) --websocket_connect_timeout 60 spaces_site.asgi:application

# The live socket for large Spaces: the same ASGI application under uvicorn (see rooms/PROTOCOL.md).
uvicorn: static
	$(VENV)/bin/uvicorn spaces_site.asgi:application --host $(HOST) --port $(PORT) \
		--loop uvloop --http httptools --ws websockets-sansio --ws-max-size 1048576 --ws-per-message-deflate false --lifespan off --no-access-log

# The default `celery` queue (Stripe events, refunds, notifications, reminders, sweeps) and the `captions` queue
# (live captioning, see captions/README.md) each get workers of their own, so live Spaces never starve money.
worker: install
	$(VENV)/bin/celery -A spaces_site worker -Q celery --concurrency=$(CELERY_CONCURRENCY) -n celery@%h --loglevel=info

worker-captions: install
	$(VENV)/bin/celery -A spaces_site worker -Q captions --pool=solo -n captions@%h --loglevel=info

# Recording live Spaces (one long task per recorded live Space, see README "Recordings and replays").
worker-recordings: install
	$(VENV)/bin/celery -A spaces_site worker -Q recordings --concurrency=$(RECORDINGS_CONCURRENCY) -n recordings@%h --loglevel=info

beat: install
	$(VENV)/bin/celery -A spaces_site beat --loglevel=info

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache .mypy_cache .import_linter_cache
