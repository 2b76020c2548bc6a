from django.contrib import admin
from django.urls import include, path

from slots import views as slot_views

urlpatterns = [
    path("", slot_views.home, name="home"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/", include("api.urls")),
    path("", include("applicants.urls")),
]

admin.site.site_header = "RTO Slot Booking"
admin.site.site_title = "RTO Slot Booking"
admin.site.index_title = "Administration"
