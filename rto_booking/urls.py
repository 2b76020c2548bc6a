from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

urlpatterns = [
    path("", include("slots.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/", include("api.urls")),
    path("", include("applicants.urls")),
]

admin.site.site_header = _("RTO Slot Booking")
admin.site.site_title = _("RTO Slot Booking")
admin.site.index_title = _("Administration")

# Operations (answered first by rto_booking.middleware.OpsEndpointsMiddleware; listed here too
# so that they resolve and reverse like any other URL).
from rto_booking import health, metrics  # noqa: E402
from rto_booking.middleware import server_error  # noqa: E402

urlpatterns += [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
]
handler500 = server_error
