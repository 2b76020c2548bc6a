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

## make run: install, migrate, seed the MP demo and serve http://127.0.0.1:8000
## (SQLite and in-process tasks unless DATABASE_URL / REDIS_URL are set).
run: export DJANGO_DEBUG ?= true
run: venv messages
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py runserver 127.0.0.1:8000

## make test: the full suite on real PostgreSQL + Redis (started if they are not running).
test: venv messages services browser migrations-check lint compose-check
	$(BIN)/pytest --create-db $(PYTEST_ARGS)

compose-check:
	@if docker compose version >/dev/null 2>&1; then \
		DJANGO_SECRET_KEY=check docker compose config --quiet && echo "docker compose config: ok"; \
	elif command -v docker-compose >/dev/null 2>&1; then \
		DJANGO_SECRET_KEY=check docker-compose config --quiet && echo "docker-compose config: ok"; \
	else echo "docker compose not installed: compose file checked by tests/test_embedded_default.py only"; fi

services:
	./scripts/ensure_services.sh

## Debian's Chromium (driven by Playwright in tests/browser and tests/admin; never a downloaded
## browser) and Noto fonts so Hindi renders in screenshots.
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-core)

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

clean:
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
