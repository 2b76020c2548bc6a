import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rto_booking.settings")

application = get_wsgi_application()

from rto_booking.deployment import check_deployment_steps  # noqa: E402  (needs settings)

check_deployment_steps()
