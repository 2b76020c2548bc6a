"""Settings for the test suite: real PostgreSQL and Redis, fast hashing, mail kept in memory."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/rto_booking")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("SITE_URL", "http://127.0.0.1:8000")

from rto_booking.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
# Unit tests run tasks in-process unless a test starts a real worker itself (tests/integration).
CELERY_TASK_ALWAYS_EAGER = os.environ.get("CELERY_EAGER_IN_TESTS", "true") == "true"
CELERY_TASK_EAGER_PROPAGATES = True
SMS_BACKEND = os.environ.get("SMS_BACKEND", "file")
# Prometheus in the tests scrapes without a token (tests/ops/test_metrics.py sets one).
METRICS_PUBLIC = True
