"""The Celery application: `celery -A rto_booking worker` / `celery -A rto_booking beat`.

All configuration lives in Django settings under the CELERY_ prefix.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rto_booking.settings")

app = Celery("rto_booking")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
