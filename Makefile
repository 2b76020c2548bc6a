# RTO Slot Booking — the two commands are `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
export PYTHONUNBUFFERED := 1

.PHONY: run test venv messages services browser lint format migrations-check compose-check bench worker beat clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

messages: venv
	$(PY) scripts/compile_messages.py

## make run: install, then an embedded PostgreSQL and Redis (data in var/), migrate, seed the MP
## demo, and serve http://127.0.0.1:8000 with a Celery worker and beat; Ctrl-C stops them all.
## DATABASE_URL / REDIS_URL, when set, are used instead of the embedded servers.
run: venv messages
	$(PY) -m rto_booking.embedded run

## make test: the full suite on real PostgreSQL + Redis: the system services when they answer
## (started if they are not running), else the embedded ones (data in var/test).
test: venv messages browser migrations-check lint compose-check
	@if ./scripts/ensure_services.sh; then \
		echo "make test: on the system PostgreSQL and Redis"; \
		$(BIN)/pytest --create-db $(PYTEST_ARGS); \
	else \
		echo "make test: no system PostgreSQL/Redis to be had: on the embedded ones (python -m rto_booking.embedded, data in var/test)"; \
		env -u DATABASE_URL -u REDIS_URL DJANGO_DEBUG=$${DJANGO_DEBUG:-false} \
			$(PY) -m rto_booking.embedded exec --data-dir var/test -- $(BIN)/pytest --create-db $(PYTEST_ARGS); \
	fi

compose-check:
	@if docker compose version >/dev/null 2>&1; then \
		DJANGO_SECRET_KEY=check docker compose config --quiet && echo "docker compose config: ok"; \
	elif command -v docker-compose >/dev/null 2>&1; then \
		DJANGO_SECRET_KEY=check docker-compose config --quiet && echo "docker-compose config: ok"; \
	else echo "docker compose not installed: compose file checked by tests/test_embedded_default.py only"; fi

services:
	./scripts/ensure_services.sh

## Debian's Chromium (driven by Playwright in tests/browser and tests/admin; never a downloaded
## browser), Noto fonts so Hindi renders in screenshots, and axe-core (the accessibility checks
## those tests run in every page): npm installs the version package-lock.json pins into
## node_modules/ (git-ignored), again whenever the lock file changes.
browser: node_modules/axe-core/axe.min.js
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-core)

node_modules/axe-core/axe.min.js: package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm)
	npm ci --no-audit --no-fund
	touch $@

migrations-check: venv
	DJANGO_SETTINGS_MODULE=tests.settings $(PY) manage.py makemigrations --check --dry-run

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## Workers against Redis (set REDIS_URL and DATABASE_URL first).
worker: venv
	$(BIN)/celery -A rto_booking worker --loglevel INFO

beat: venv
	$(BIN)/celery -A rto_booking beat --loglevel INFO

## Stops the embedded servers of var/ first: their data goes with it.
clean:
	@if [ -x $(PY) ]; then \
		$(PY) -m rto_booking.embedded stop && $(PY) -m rto_booking.embedded stop --data-dir var/test; \
	fi
	rm -rf $(VENV) staticfiles var db.sqlite3

## make bench: every benchmark under bench/ on real PostgreSQL + Redis; JSON in bench/results/.
bench: venv services
	mkdir -p bench/results
	@for script in bench/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done
	@$(PY) bench/summary.py

## make drills: the fault drills of docs/OPERATIONS.md on real processes (each under a minute):
## a worker killed mid-reschedule, Redis down while applicants book, PostgreSQL restarted.
drills: venv messages services
	$(BIN)/pytest --create-db tests/drills tests/integration/test_outage_live.py -v $(PYTEST_ARGS)
