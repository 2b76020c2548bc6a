"""Settings for RTO Slot Booking, read from the environment.

Every value an operator may change comes from an environment variable (see README.md,
"Configuration"). A bad value stops the process at start with a message naming the variable,
never later in the middle of a request.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def _env(kind, name, **kwargs):
    """Read one variable through django-environ, naming it when its value is unusable."""
    try:
        return getattr(env, kind)(name, **kwargs)
    except ImproperlyConfigured:
        raise
    except Exception as exc:  # environ raises ValueError/TypeError/KeyError for bad values
        raise ImproperlyConfigured(
            f"Environment variable {name} has an unusable value "
            f"{env.str(name, default='')!r}: {exc}"
        ) from exc


_TRUE = {"1", "true", "yes", "on", "y", "t"}
_FALSE = {"0", "false", "no", "off", "n", "f", ""}


def _bool(name, default):
    """A strict boolean: django-environ reads any unknown word as False, silently."""
    raw = env.str(name, default=None)
    if raw is None:
        return default
    if raw.strip().lower() in _TRUE:
        return True
    if raw.strip().lower() in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"Environment variable {name} must be true or false (1/0, yes/no, on/off), got {raw!r}."
    )


def _positive_int(name, default):
    value = _env("int", name, default=default)
    if value < 0:
        raise ImproperlyConfigured(f"Environment variable {name} must be >= 0, got {value}.")
    return value


DEBUG = _bool("DJANGO_DEBUG", False)

SECRET_KEY = _env("str", "DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is false "
            "(for a local demo, `make run` sets DJANGO_DEBUG=true)."
        )
    SECRET_KEY = "insecure-development-key-only-used-with-DJANGO_DEBUG-true"  # noqa: S105

ALLOWED_HOSTS = _env(
    "list",
    "DJANGO_ALLOWED_HOSTS",
    default=["127.0.0.1", "localhost", "[::1]"] if DEBUG else [],
)
CSRF_TRUSTED_ORIGINS = _env("list", "DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "rto_booking.admin_login.RtoAdminConfig",  # django.contrib.admin, login throttled
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "rto_booking",
    "slots",
    "applicants",
    "notifications",
    "monitoring",
    "api",
]

# Outermost first. /healthz, /readyz and /metrics are answered before anything else (no host
# check, no session, no request log); then every request gets an id; django-csp's policy
# header; Django's own; last, a lost database becomes a 503 instead of a 500.
MIDDLEWARE = [
    "rto_booking.middleware.OpsEndpointsMiddleware",
    "rto_booking.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "rto_booking.middleware.BadInputMiddleware",
    "rto_booking.middleware.PersonalNoStoreMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "rto_booking.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "rto_booking.urls"
# The model whose `clerks` scope the admin (rto_booking/admin_scoping.py), named like
# AUTH_USER_MODEL so the core depends on no app.
OFFICE_MODEL = "slots.Office"
WSGI_APPLICATION = "rto_booking.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------
# PostgreSQL only, everywhere (production, tests, `make run`): the invariants are enforced by
# its constraints and row locks. `make run` starts an embedded one (rto_booking/embedded.py).
if not env.str("DATABASE_URL", default=""):
    raise ImproperlyConfigured(
        "Environment variable DATABASE_URL is not set: it must be a PostgreSQL URL such as "
        "postgres://user:password@host:5432/name (`make run` starts an embedded PostgreSQL "
        "and sets it; `python -m rto_booking.embedded exec -- CMD` does the same for CMD)."
    )
DATABASES = {"default": _env("db_url", "DATABASE_URL")}
if DATABASES["default"].get("ENGINE") != "django.db.backends.postgresql":
    raise ImproperlyConfigured(
        "Environment variable DATABASE_URL must be a PostgreSQL URL such as "
        "postgres://user:password@host:5432/name (PostgreSQL is the only database engine), "
        f"got {env.str('DATABASE_URL')!r}."
    )
DATABASES["default"].setdefault("CONN_MAX_AGE", _positive_int("DATABASE_CONN_MAX_AGE", 60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# A statement stuck behind a lock must fail fast and be answered "busy, try again",
# never hold a web worker for minutes.
DATABASES["default"].setdefault("OPTIONS", {})
DATABASES["default"]["OPTIONS"].setdefault(
    "options",
    f"-c lock_timeout={_positive_int('DATABASE_LOCK_TIMEOUT_MS', 5000)}"
    f" -c statement_timeout={_positive_int('DATABASE_STATEMENT_TIMEOUT_MS', 120000)}",
)
# Django's documented options: parameters bound server-side, and psycopg's prepared
# statements switched back on (Django turns them off for poolers): a statement a
# connection runs a fifth time is prepared, and PostgreSQL reuses its plan. Planning the
# booking hot path's queries cost more than running them (docs/PERFORMANCE.md). Off
# (false) behind a pooler in transaction mode that cannot keep prepared statements
# (PgBouncer before 1.21): parameters are then bound client-side and nothing is prepared.
if _bool("DATABASE_PREPARED_STATEMENTS", True):
    DATABASES["default"]["OPTIONS"]["server_side_binding"] = True
    DATABASES["default"]["OPTIONS"]["prepare_threshold"] = 5
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache and Celery ---------------------------------------------------------------
REDIS_URL = _env("str", "REDIS_URL", default="")
if REDIS_URL and not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured(
        f"Environment variable REDIS_URL must be a redis:// URL, got {REDIS_URL!r}."
    )

if REDIS_URL:
    # django-redis: the cache holds throttle counters and small markers, nothing a booking
    # depends on (DESIGN.md invariant 8), so while Redis is away it ignores its errors — reads
    # miss, writes are dropped, rate limits let requests through — and logs them.
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "rto",
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 1,
                "SOCKET_TIMEOUT": 1,
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# Without Redis the whole product runs in one process: tasks execute at once, in-process.
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = "Asia/Kolkata"
# Tasks are idempotent, so a task whose worker died mid-run is delivered again rather than lost.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# The longest task (a statewide reschedule) is bounded by its hard time limit; the broker must
# not hand an unacknowledged task to a second worker before that limit has passed.
CELERY_TASK_TIME_LIMIT = _positive_int("CELERY_TASK_TIME_LIMIT", 30 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 60
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_TASK_TIME_LIMIT + 30 * 60,
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
}
# A web request must not hang while Redis is away: publishing gives up quickly and the periodic
# sweeps pick the work up from PostgreSQL later.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
# The queues the product uses, declared so that a plain `celery -A rto_booking worker` (no -Q)
# consumes every one of them; `-Q rescheduling,default` / `-Q notifications` split them across
# workers (docker-compose.yml). A task routed to a queue no worker consumes would wait forever.
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = [Queue("default"), Queue("rescheduling"), Queue("notifications")]
CELERY_TASK_ROUTES = {
    "slots.tasks.reschedule_outage": {"queue": "rescheduling"},
    "slots.tasks.reconcile_outages": {"queue": "rescheduling"},
    "notifications.tasks.*": {"queue": "notifications"},
}
RECONCILE_INTERVAL_SECONDS = max(1, _positive_int("RECONCILE_INTERVAL_SECONDS", 15))
# Delivery reports of pull gateways (msdg) are fetched this often (see SMS_DLR_POLL_BATCH).
SMS_DLR_POLL_SECONDS = max(10, _positive_int("SMS_DLR_POLL_SECONDS", 60))
CELERY_BEAT_SCHEDULE = {
    "generate-slots": {
        "task": "slots.tasks.generate_slots",
        "schedule": timedelta(hours=1),
    },
    "mark-no-shows": {
        "task": "slots.tasks.mark_no_shows",
        "schedule": timedelta(minutes=30),
    },
    # Both find lost work by fact in PostgreSQL (a run whose lock is free, a due message) and
    # cost one or two indexed queries: often enough that a run lost with its worker or its
    # broker message resumes well within a minute of a worker and Redis being back.
    "reconcile-outages": {
        "task": "slots.tasks.reconcile_outages",
        "schedule": timedelta(seconds=RECONCILE_INTERVAL_SECONDS),
    },
    "sweep-outbox": {
        "task": "notifications.tasks.sweep_outbox",
        "schedule": timedelta(seconds=RECONCILE_INTERVAL_SECONDS),
    },
    # Expires unanswered waiting-list offers and offers every freed seat (whatever freed it:
    # a cancel, added capacity, a resolved or undone outage) to the list: within a minute.
    "waitlist-offers": {
        "task": "slots.tasks.waitlist_offers_sweep",
        "schedule": timedelta(seconds=30),
    },
    # The ballots of newly opened days, drawn within a minute of closing.
    "draw-ballots": {
        "task": "slots.tasks.draw_ballots",
        "schedule": timedelta(seconds=30),
    },
    "send-reminders": {
        "task": "slots.tasks.send_reminders",
        "schedule": timedelta(minutes=15),
    },
    # The last calls and releases of unconfirmed bookings (nothing to do unless
    # RELEASE_UNCONFIRMED=true); every 5 minutes, so a release comes at most 5 minutes late.
    "release-unconfirmed": {
        "task": "slots.tasks.release_unconfirmed",
        "schedule": timedelta(minutes=5),
    },
    # Delivery reports of a gateway that does not push them (msdg); a no-op for the others.
    "poll-sms-delivery": {
        "task": "slots.tasks.poll_sms_delivery",
        "schedule": timedelta(seconds=SMS_DLR_POLL_SECONDS),
    },
}

# --- Internationalisation ------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("hi", _("Hindi"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Kolkata"
USE_I18N = True
USE_TZ = True
# One date and time format in both languages (24-hour times, one spelling of each Hindi
# month): rto_booking/formats/.
FORMAT_MODULE_PATH = ["rto_booking.formats"]

# --- Static files --------------------------------------------------------------------------
STATIC_URL = "static/"
# Where `collectstatic` gathers the files that whitenoise serves.
STATIC_ROOT = Path(_env("str", "STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "rto_booking.deployment.StaticFilesStorage"
        )
    },
}
# A collected file is cached for ever when its name carries the manifest's 12-digit hash. Told
# by the name, instead of whitenoise asking the storage about every file (it would ask for
# names such as `swagger-ui.map` that no template uses, and each would log a missing entry).
WHITENOISE_IMMUTABLE_FILE_TEST = r"\.[0-9a-f]{12}\.[^/.]+$"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Security (production) -----------------------------------------------------------------
SESSION_COOKIE_SECURE = _bool("DJANGO_SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
# Trust X-Forwarded-Proto only when a proxy in front sets it and strips the client's own
# (DJANGO_PROXY_SETS_FORWARDED_PROTO=true); otherwise any client could claim HTTPS.
PROXY_SETS_FORWARDED_PROTO = _bool("DJANGO_PROXY_SETS_FORWARDED_PROTO", False)
if PROXY_SETS_FORWARDED_PROTO:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = _bool("DJANGO_SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = _positive_int("DJANGO_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# --- E-mail --------------------------------------------------------------------------------
# Every one of Django's e-mail settings, from the variable of the same name.
EMAIL_BACKEND = _env(
    "str",
    "EMAIL_BACKEND",
    default=(
        "django.core.mail.backends.console.EmailBackend"
        if DEBUG
        else "django.core.mail.backends.smtp.EmailBackend"
    ),
)
EMAIL_HOST = _env("str", "EMAIL_HOST", default="localhost")
EMAIL_PORT = _positive_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = _env("str", "EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = _env("str", "EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = _bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _bool("EMAIL_USE_SSL", False)
EMAIL_SSL_CERTFILE = _env("str", "EMAIL_SSL_CERTFILE", default="") or None
EMAIL_SSL_KEYFILE = _env("str", "EMAIL_SSL_KEYFILE", default="") or None
EMAIL_TIMEOUT = _positive_int("EMAIL_TIMEOUT", 10)
EMAIL_USE_LOCALTIME = _bool("EMAIL_USE_LOCALTIME", False)
EMAIL_SUBJECT_PREFIX = _env("str", "EMAIL_SUBJECT_PREFIX", default="[RTO Slot Booking] ")
# The file backend (django.core.mail.backends.filebased.EmailBackend) writes here.
EMAIL_FILE_PATH = _env("str", "EMAIL_FILE_PATH", default="") or None
DEFAULT_FROM_EMAIL = _env(
    "str", "DEFAULT_FROM_EMAIL", default="RTO Slot Booking <noreply@rto.example.in>"
)
SERVER_EMAIL = _env("str", "SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured(
        "Environment variables EMAIL_USE_TLS and EMAIL_USE_SSL are exclusive: set one of them."
    )
if EMAIL_BACKEND.endswith("filebased.EmailBackend") and not EMAIL_FILE_PATH:
    raise ImproperlyConfigured(
        "EMAIL_BACKEND is the file backend: set the environment variable EMAIL_FILE_PATH to "
        "the directory the e-mails are written to."
    )

# --- SMS -----------------------------------------------------------------------------------
SMS_BACKEND = _env("str", "SMS_BACKEND", default="console")
SMS_FILE_DIR = _env("str", "SMS_FILE_DIR", default=str(BASE_DIR / "var" / "sms"))
SMS_GATEWAY_URL = _env("str", "SMS_GATEWAY_URL", default="")
SMS_GATEWAY_API_KEY = _env("str", "SMS_GATEWAY_API_KEY", default="")
SMS_GATEWAY_SENDER_ID = _env("str", "SMS_GATEWAY_SENDER_ID", default="RTOMPB")
SMS_GATEWAY_TIMEOUT = _env("float", "SMS_GATEWAY_TIMEOUT", default=5.0)
# Sending runs concurrently (a gateway answers in 100-500 ms): at most SMS_MAX_IN_FLIGHT requests
# open per dispatcher run, and at most SMS_GATEWAY_TPS sends a second across every dispatcher of
# the deployment (a token bucket per run, a shared per-second count in Redis). The defaults keep
# a 150 ms gateway at 500 TPS busy: 100 in flight / 0.15 s = 666 a second > 500.
SMS_MAX_IN_FLIGHT = max(1, _positive_int("SMS_MAX_IN_FLIGHT", 100))
SMS_GATEWAY_TPS = _env("float", "SMS_GATEWAY_TPS", default=500.0)
if SMS_GATEWAY_TPS <= 0:
    raise ImproperlyConfigured(
        f"Environment variable SMS_GATEWAY_TPS must be > 0, got {SMS_GATEWAY_TPS}."
    )
# The DLT flood rule: at most this many SMS to one mobile in any hour; the rest wait until the
# hour has passed (their e-mail goes at once). 0 turns the cap off.
SMS_MAX_PER_HOUR = _env("int", "SMS_MAX_PER_HOUR", default=6)
if SMS_MAX_PER_HOUR < 0:
    raise ImproperlyConfigured(
        f"Environment variable SMS_MAX_PER_HOUR must be >= 0, got {SMS_MAX_PER_HOUR}."
    )
# DLT: the deployment's registered SMS templates (entity id, header, a template id per text),
# checked against templates/notifications by `manage.py dlt_templates --check`.
DLT_TEMPLATES_FILE = _env(
    "str", "DLT_TEMPLATES_FILE", default=str(BASE_DIR / "notifications" / "dlt_templates.json")
)
# E-mail: this many SMTP connections per dispatcher run, each reused for its messages.
EMAIL_MAX_IN_FLIGHT = max(1, _positive_int("EMAIL_MAX_IN_FLIGHT", 16))
# For SMS_BACKEND=nic (username and pin), msdg (username and password) and gupshup (userid and
# password).
SMS_GATEWAY_USERNAME = _env("str", "SMS_GATEWAY_USERNAME", default="")
SMS_GATEWAY_PASSWORD = _env("str", "SMS_GATEWAY_PASSWORD", default="")
# For SMS_BACKEND=msdg: the department's secure key (C-DAC's services portal), which signs each
# request, and the address of its delivery report (default: C-DAC's).
SMS_GATEWAY_SECURE_KEY = _env("str", "SMS_GATEWAY_SECURE_KEY", default="")
SMS_GATEWAY_REPORT_URL = _env("str", "SMS_GATEWAY_REPORT_URL", default="")
# Gateways whose delivery reports are a pull API (msdg) are asked about sent SMS without a
# report every SMS_DLR_POLL_SECONDS (above, with beat), at most SMS_DLR_POLL_BATCH of them a
# round, for SMS_DLR_POLL_HOURS after sending (then a report is not coming).
SMS_DLR_POLL_BATCH = max(1, _positive_int("SMS_DLR_POLL_BATCH", 200))
SMS_DLR_POLL_HOURS = max(1, _positive_int("SMS_DLR_POLL_HOURS", 48))
if (
    SMS_BACKEND not in {"console", "file", "http", "nic", "msdg", "gupshup"}
    and "." not in SMS_BACKEND
):
    raise ImproperlyConfigured(
        f"Environment variable SMS_BACKEND must be console, file, http, nic, msdg, gupshup or a "
        f"dotted path, "
        f"got {SMS_BACKEND!r}."
    )
# The address applicants reach the site at: every SMS and e-mail links to it. Required in
# production (`check --deploy` names it when missing; /readyz fails without it).
SITE_URL = (
    _env("str", "SITE_URL", default="") or ("http://127.0.0.1:8000" if DEBUG else "")
).rstrip("/")
if SITE_URL and not SITE_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(
        f"Environment variable SITE_URL must start with https:// or http://, got {SITE_URL!r}."
    )

# --- Notifications (the outbox dispatcher; see docs/NOTIFICATIONS.md) ------------------------
# A row is tried at most this many times, then it is `dead` and waits for a clerk's "retry".
NOTIFICATION_MAX_ATTEMPTS = _positive_int("NOTIFICATION_MAX_ATTEMPTS", 8)
# Rows claimed per transaction; one claim, one render pass and one status UPDATE per batch.
NOTIFICATION_BATCH_SIZE = max(1, _positive_int("NOTIFICATION_BATCH_SIZE", 500))
# Retry n waits min(base * 2**(n-1), max) seconds, with +-50% jitter.
NOTIFICATION_RETRY_BASE_SECONDS = _env("float", "NOTIFICATION_RETRY_BASE_SECONDS", default=30.0)
NOTIFICATION_RETRY_MAX_SECONDS = _env("float", "NOTIFICATION_RETRY_MAX_SECONDS", default=3600.0)
# A claimed row is hidden from other dispatchers for this long; the claimer stops sending a
# batch well before its lease ends, so a row is never sent twice by two live dispatchers.
NOTIFICATION_CLAIM_LEASE_SECONDS = _positive_int("NOTIFICATION_CLAIM_LEASE_SECONDS", 300)
# One dispatcher task sends for at most this long, then hands over to a fresh task.
NOTIFICATION_DISPATCH_SECONDS = _positive_int("NOTIFICATION_DISPATCH_SECONDS", 240)
if SMS_BACKEND == "http" and not SMS_GATEWAY_URL:
    raise ImproperlyConfigured("SMS_BACKEND=http needs the environment variable SMS_GATEWAY_URL.")
if SMS_BACKEND == "msdg" and not (
    SMS_GATEWAY_USERNAME and SMS_GATEWAY_PASSWORD and SMS_GATEWAY_SECURE_KEY
):
    # Every request is signed with the secure key: without it each SMS would go dead as 416.
    raise ImproperlyConfigured(
        "SMS_BACKEND=msdg needs SMS_GATEWAY_USERNAME, SMS_GATEWAY_PASSWORD and "
        "SMS_GATEWAY_SECURE_KEY."
    )
if NOTIFICATION_RETRY_BASE_SECONDS <= 0 or NOTIFICATION_RETRY_MAX_SECONDS <= 0:
    raise ImproperlyConfigured(
        "Environment variables NOTIFICATION_RETRY_BASE_SECONDS and "
        "NOTIFICATION_RETRY_MAX_SECONDS must be > 0."
    )
if NOTIFICATION_CLAIM_LEASE_SECONDS < 5:
    raise ImproperlyConfigured(
        "Environment variable NOTIFICATION_CLAIM_LEASE_SECONDS must be >= 5, "
        f"got {NOTIFICATION_CLAIM_LEASE_SECONDS}."
    )

# --- Booking rules -------------------------------------------------------------------------
# Every limit an RTO might tune; all of them are read by slots.rules, never hard-coded.
BOOKING_HORIZON_DAYS = _positive_int("BOOKING_HORIZON_DAYS", 30)
BOOKING_CUTOFF_MINUTES = _positive_int("BOOKING_CUTOFF_MINUTES", 120)
BOOKING_MAX_SELF_RESCHEDULES = _positive_int("BOOKING_MAX_SELF_RESCHEDULES", 2)
# A clerk may check an applicant in on the appointment's day only, from this many minutes
# before its time (people come early; nobody comes weeks early).
CHECK_IN_EARLY_MINUTES = _positive_int("CHECK_IN_EARLY_MINUTES", 240)
PRIORITY_RESERVE_RELEASE_HOURS = _positive_int("PRIORITY_RESERVE_RELEASE_HOURS", 48)
DRIVING_TEST_MIN_DAYS_AFTER_LEARNER = _positive_int("DRIVING_TEST_MIN_DAYS_AFTER_LEARNER", 30)
LEARNER_LICENCE_VALID_DAYS = _positive_int("LEARNER_LICENCE_VALID_DAYS", 182)
APPLICANT_MIN_AGE_YEARS = _positive_int("APPLICANT_MIN_AGE_YEARS", 16)
# Slots are materialised a little beyond the booking horizon so that rescheduling after an
# outage near the end of the horizon still finds seats.
SLOT_GENERATION_DAYS = _positive_int("SLOT_GENERATION_DAYS", BOOKING_HORIZON_DAYS + 14)
RESCHEDULE_CHUNK_SIZE = _positive_int("RESCHEDULE_CHUNK_SIZE", 2000)
# How long a rescheduling chunk may wait for a concurrent run of the same office × service.
RESCHEDULE_LOCK_TIMEOUT_S = _positive_int("RESCHEDULE_LOCK_TIMEOUT_S", 120)
OUTAGE_UNDO_WINDOW_MINUTES = _positive_int("OUTAGE_UNDO_WINDOW_MINUTES", 30)
# Open-ended outages ("until further notice"): bookings starting before now + this are held,
# the horizon rolling while the outage lasts (the reconcile, every RECONCILE_INTERVAL_SECONDS).
OUTAGE_HOLD_HOURS = _positive_int("OUTAGE_HOLD_HOURS", 48)
# On resolving an open-ended outage, a held booking whose time is at least this far ahead
# keeps it; the others get the earliest seats from then on.
OUTAGE_RECOVERY_LEAD_MINUTES = _positive_int("OUTAGE_RECOVERY_LEAD_MINUTES", 120)
# Waiting list (DESIGN.md, "Fair access"): a freed seat is held this long for the applicant it
# is offered to; unanswered, it goes to the next one in the list.
WAITLIST_OFFER_MINUTES = _positive_int("WAITLIST_OFFER_MINUTES", 30)
# When a new day becomes bookable (local midnight, the horizon rolling), the requests for it in
# its first this many minutes are collected and drawn by lot among distinct applicants
# (slots/services/ballot.py) instead of going to the fastest click; 0: first come, first served.
RELEASE_BALLOT_MINUTES = _positive_int("RELEASE_BALLOT_MINUTES", 10)
# The mark-down preview proposes extra sessions (longer hours by RECOVERY_OVERTIME_HOURS, a
# Saturday) when an outage's last moved booking would be served later than this many days
# after the service is back (slots/services/recovery.py).
RECOVERY_TARGET_DAYS = _positive_int("RECOVERY_TARGET_DAYS", 3)
RECOVERY_OVERTIME_HOURS = _positive_int("RECOVERY_OVERTIME_HOURS", 2)

# "Confirm or release" (docs/NOTIFICATIONS.md, "Reminders"): the reminder, with its links
# "I'll come" and "I can't come", goes this many hours before the appointment (a booking made
# later gets it half-way between booking and appointment).
REMINDER_HOURS = max(1, _positive_int("REMINDER_HOURS", 48))
# Off by default. On: a booking still unconfirmed RELEASE_AFTER_HOURS before its time gets a
# last call, and is released (cancelled, its seat freed) RELEASE_LAST_CALL_MINUTES after it.
RELEASE_UNCONFIRMED = _bool("RELEASE_UNCONFIRMED", False)
RELEASE_AFTER_HOURS = max(1, _positive_int("RELEASE_AFTER_HOURS", 12))
RELEASE_LAST_CALL_MINUTES = max(1, _positive_int("RELEASE_LAST_CALL_MINUTES", 120))
if RELEASE_AFTER_HOURS >= REMINDER_HOURS:
    raise ImproperlyConfigured(
        "RELEASE_AFTER_HOURS must be less than REMINDER_HOURS: the last call follows the reminder."
    )
if RELEASE_LAST_CALL_MINUTES >= RELEASE_AFTER_HOURS * 60:
    raise ImproperlyConfigured(
        "RELEASE_LAST_CALL_MINUTES must end before the appointment (less than RELEASE_AFTER_HOURS)."
    )

# --- Monitoring (Alertmanager webhook, docs/OPERATIONS.md) ---------------------------------
# POST /api/v1/alerts/ asks for "Authorization: Bearer <token>"; unset, every call is refused
# (401): monitoring cannot propose outages until the operator shares a token with it.
ALERT_WEBHOOK_TOKEN = _env("str", "ALERT_WEBHOOK_TOKEN", default="")
# The SMS gateway's delivery reports (POST /api/v1/sms/delivery/): its bearer token. Unset:
# every report is refused (401).
SMS_DLR_TOKEN = _env("str", "SMS_DLR_TOKEN", default="")
# true: an outage proposed by monitoring is declared at once (and resolved at once when the
# alert resolves), without waiting for a clerk's confirmation.
OUTAGE_AUTO_DECLARE = _bool("OUTAGE_AUTO_DECLARE", False)

# --- REST API ------------------------------------------------------------------------------
RATE_LIMITS = _env("str", "RATE_LIMITS", default="on").lower()
if RATE_LIMITS not in {"on", "off"}:
    raise ImproperlyConfigured(
        f"Environment variable RATE_LIMITS must be on or off, got {RATE_LIMITS!r}."
    )
# Applicant API tokens (applicants/tokens.py) stop working this many hours after sign-in.
APPLICANT_TOKEN_HOURS = _positive_int("APPLICANT_TOKEN_HOURS", 12)
# Staff API keys (manage.py drf_create_token) stop working this many hours after they were made.
STAFF_TOKEN_HOURS = max(1, _positive_int("STAFF_TOKEN_HOURS", 24))
# Rates as DRF writes them ("5/min"); counted in the default cache (Redis when REDIS_URL is set).
THROTTLE_RATES = {
    "anon": _env("str", "API_THROTTLE_ANON", default="300/min"),
    "user": _env("str", "API_THROTTLE_USER", default="600/min"),
}
# One policy for failed sign-ins, on the sign-in page and the API alike (one count for both):
# at most this many failures per application number and per client address in the window;
# correct sign-ins are never counted (rto_booking/signin_limits.py).


def _lockout_steps(name, default):
    """ "5:900,10:3600,20:86400" -> [(5, 900), (10, 3600), (20, 86400)]: after N failures,
    lock for S seconds."""
    raw = _env("str", name, default=default)
    try:
        steps = [tuple(int(part) for part in step.split(":")) for step in raw.split(",")]
        if not steps or any(len(step) != 2 or min(step) < 1 for step in steps):
            raise ValueError
    except ValueError:
        raise ImproperlyConfigured(
            f"Environment variable {name} must look like 5:900,10:3600 (failures:seconds), "
            f"got {raw!r}."
        ) from None
    return sorted(steps)


# Failed sign-ins (rto_booking/signin_limits.py): escalating per application number, a much
# higher ceiling per client address (a kiosk or NAT is many people).
SIGNIN_LOCKOUT_STEPS = _lockout_steps("SIGNIN_LOCKOUT_STEPS", "5:900,10:3600,20:86400")
SIGNIN_FAILURE_MEMORY_SECONDS = max(1, _positive_int("SIGNIN_FAILURE_MEMORY_SECONDS", 86400))
SIGNIN_FAILURES_PER_ADDRESS = max(1, _positive_int("SIGNIN_FAILURES_PER_ADDRESS", 100))
SIGNIN_FAILURE_WINDOW_SECONDS = max(1, _positive_int("SIGNIN_FAILURE_WINDOW_SECONDS", 900))
# "Forgot application number" (POST /api/v1/applicants/recover/, the /recover/ page): every
# request counts, a match or not (the answer must not tell them apart): at most this many per
# mobile number and per client address in the window (rto_booking/signin_limits.py).
RECOVER_PER_MOBILE = max(1, _positive_int("RECOVER_PER_MOBILE", 3))
RECOVER_PER_ADDRESS = max(1, _positive_int("RECOVER_PER_ADDRESS", 20))
RECOVER_WINDOW_SECONDS = max(1, _positive_int("RECOVER_WINDOW_SECONDS", 3600))
for _scope, _rate in THROTTLE_RATES.items():
    _count, _, _period = _rate.partition("/")
    if not (_count.isdigit() and _period[:1] in {"s", "m", "h", "d"}):
        raise ImproperlyConfigured(
            f"Throttle rate for {_scope!r} must look like 5/min, got {_rate!r}."
        )
# --- Fair access: a verified mobile before the first booking (docs/SECURITY.md) -------------
# on: a new applicant gets a one-time code by SMS and books only once it is entered. off skips
# it all (load tests, like RATE_LIMITS=off): bookings are allowed, `mobile_verified` just
# reflects the applicant's field.
MOBILE_VERIFICATION = _env("str", "MOBILE_VERIFICATION", default="on").lower()
if MOBILE_VERIFICATION not in {"on", "off"}:
    raise ImproperlyConfigured(
        f"Environment variable MOBILE_VERIFICATION must be on or off, got {MOBILE_VERIFICATION!r}."
    )
# A code works this many minutes, for at most MOBILE_CODE_MAX_TRIES wrong entries.
MOBILE_CODE_MINUTES = max(1, _positive_int("MOBILE_CODE_MINUTES", 10))
MOBILE_CODE_MAX_TRIES = max(1, _positive_int("MOBILE_CODE_MAX_TRIES", 5))
# New codes an applicant may ask for in an hour (the one sent at registration not counted),
# codes sent to one mobile number in an hour (a family shares a phone), and code requests plus
# wrong codes from one client address in an hour. Counted in the cache; RATE_LIMITS=off: none.
MOBILE_CODE_RESENDS_PER_HOUR = max(1, _positive_int("MOBILE_CODE_RESENDS_PER_HOUR", 3))
MOBILE_CODES_PER_NUMBER_PER_HOUR = max(1, _positive_int("MOBILE_CODES_PER_NUMBER_PER_HOUR", 10))
MOBILE_CODE_ATTEMPTS_PER_ADDRESS = max(1, _positive_int("MOBILE_CODE_ATTEMPTS_PER_ADDRESS", 60))
# At most this many applicants may have one mobile number verified (a family shares a phone).
APPLICANTS_PER_MOBILE = max(1, _positive_int("APPLICANTS_PER_MOBILE", 4))
# The admin's search box: at most this many terms, of at most this many characters in all
# (every term is one more OR over the search fields).
ADMIN_SEARCH_MAX_TERMS = max(1, _positive_int("ADMIN_SEARCH_MAX_TERMS", 5))
ADMIN_SEARCH_MAX_CHARS = max(1, _positive_int("ADMIN_SEARCH_MAX_CHARS", 200))
# Wrong dates a staff user may check for one applicant in an hour on its admin page (the
# date of birth itself is never shown there).
ADMIN_DOB_CHECK_FAILURES = max(1, _positive_int("ADMIN_DOB_CHECK_FAILURES", 5))
# A JSON body over this many bytes is refused with 413 `too_large` (api/parsers.py), as Django
# refuses form bodies over DATA_UPLOAD_MAX_MEMORY_SIZE (the same 2.5 MB by default).
API_MAX_BODY_BYTES = max(1, _positive_int("API_MAX_BODY_BYTES", 2_621_440))
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.BoundedJSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.ApplicantTokenAuthentication",
        "api.authentication.StaffTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_THROTTLE_CLASSES": [
        "api.throttling.AnonThrottle",
        "api.throttling.UserThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": THROTTLE_RATES,
    # Client address for throttling: REMOTE_ADDR unless this many proxies set X-Forwarded-For.
    "NUM_PROXIES": _positive_int("API_NUM_PROXIES", 0),
    "EXCEPTION_HANDLER": "api.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
# The docs page serves Swagger UI from the drf-spectacular-sidecar package, not from a CDN.
INSTALLED_APPS.append("drf_spectacular_sidecar")
SPECTACULAR_SETTINGS = {
    "TITLE": "RTO Slot Booking API",
    "DESCRIPTION": "Book, move and cancel RTO appointments; record outages.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "BookingStatusEnum": "slots.models.Booking.Status",
        "BookingEventKindEnum": "slots.models.BookingEvent.Kind",
        "RescheduleStateEnum": "slots.models.Outage.State",
        "NotificationStatusEnum": ["pending", "sent", "failed", "dead", "superseded"],
        "SmsDeliveryEnum": ["delivered", "undelivered", "expired"],
        "AlertStatusEnum": ["firing", "resolved"],
        "OutageProposalKindEnum": ["declare", "resolve"],
        "OutageProposalStateEnum": ["open", "confirmed", "withdrawn"],
    },
}

# --- Logging -------------------------------------------------------------------------------
# One line per record on stderr: JSON (python-json-logger) in production, readable lines in
# debug. Every record carries the request id (and in a worker the task id and name); see
# rto_booking/logging.py and docs/OPERATIONS.md, "Logs and request ids".
LOG_FORMAT = _env("str", "LOG_FORMAT", default="plain" if DEBUG else "json").lower()
if LOG_FORMAT not in {"json", "plain"}:
    raise ImproperlyConfigured(
        f"Environment variable LOG_FORMAT must be json or plain, got {LOG_FORMAT!r}."
    )
LOG_LEVEL = _env("str", "LOG_LEVEL", default="INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(
        f"Environment variable LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {LOG_LEVEL!r}."
    )
# One access-log line per request (method, path, status, ms, route, request id).
REQUEST_LOG = _bool("REQUEST_LOG", True)
from rto_booking.logging import logging_config  # noqa: E402

LOGGING = logging_config(log_format=LOG_FORMAT, level=LOG_LEVEL)
# Celery keeps Django's logging (and so the JSON format and the request-id filter) instead of
# installing its own handlers on the root logger.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Operations: health, metrics (docs/OPERATIONS.md) ----------------------------------------
# /readyz: a worker of each of these queues must have sent a heartbeat this recently.
READINESS_WORKER_QUEUES = _env(
    "list", "READINESS_WORKER_QUEUES", default=["rescheduling", "notifications"]
)
READINESS_HEARTBEAT_MAX_AGE = _positive_int("READINESS_HEARTBEAT_MAX_AGE", 60)
# /metrics asks for "Authorization: Bearer <token>" when this is set. Without it /metrics is
# refused (403), unless METRICS_PUBLIC says otherwise (default: only with DJANGO_DEBUG, i.e.
# `make run`); `check --deploy` names the missing token.
METRICS_TOKEN = _env("str", "METRICS_TOKEN", default="")
METRICS_PUBLIC = _bool("METRICS_PUBLIC", DEBUG)
# Database metrics are computed on scrape and reused for this long by the same process.
METRICS_DB_CACHE_SECONDS = _positive_int("METRICS_DB_CACHE_SECONDS", 10)
# A worker serves its task metrics on this port when set (0: off).
WORKER_METRICS_PORT = _positive_int("WORKER_METRICS_PORT", 0)

# --- Security: Content Security Policy (django-csp) -------------------------------------------
# Scripts and styles from this site only (inline ones only with the per-request nonce, as
# {{ request.csp_nonce }}); images also as data: URIs (the slip's QR code); no plugins, no
# framing, forms post only here. The clerk admin's pages and the API docs keep their scripts and
# styles in static files too. CSP_EXCLUDE_URL_PREFIXES (empty by default) sends no policy at
# all for path prefixes that still need inline code (django-csp's EXCLUDE_URL_PREFIXES; see
# docs/OPERATIONS.md, "Content Security Policy"); the 500 page relaxes its own styles.
INSTALLED_APPS.append("csp")
from csp.constants import NONCE, NONE, SELF  # noqa: E402

CONTENT_SECURITY_POLICY = {
    "EXCLUDE_URL_PREFIXES": _env("list", "CSP_EXCLUDE_URL_PREFIXES", default=[]),
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
# The health endpoints answer plain HTTP (Docker, the load balancer, Prometheus inside the
# network) even with DJANGO_SECURE_SSL_REDIRECT=true.
SECURE_REDIRECT_EXEMPT = [r"^healthz/?$", r"^readyz/?$", r"^metrics/?$"]
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
