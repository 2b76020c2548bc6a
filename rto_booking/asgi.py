import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rto_booking.settings")

application = get_asgi_application()

from rto_booking.deployment import check_deployment_steps  # noqa: E402  (needs settings)

check_deployment_steps()
