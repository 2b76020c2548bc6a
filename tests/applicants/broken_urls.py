"""A URLconf with a view that fails, to see the 500 page the way an applicant would."""

from django.urls import include, path

from rto_booking.urls import handler500  # noqa: F401 (the site's own 500 page, as in production)


def broken(request):
    raise RuntimeError("secret internal detail")


urlpatterns = [
    path("broken/", broken),
    path("", include("rto_booking.urls")),
]
