"""/api/: v1 endpoints, the OpenAPI schema and its docs page; anything else answers 404 JSON."""

from django.urls import include, path, re_path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from api import alerts, delivery, views


class OfficeCodeConverter:
    regex = "[A-Z]{2}-[0-9]{1,3}"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


class BookingReferenceConverter:
    regex = "[A-Z0-9]{8,16}"

    def to_python(self, value):
        return value

    def to_url(self, value):
        return value


register_converter(OfficeCodeConverter, "rto_code")
register_converter(BookingReferenceConverter, "booking_ref")

v1 = [
    path("auth/applicant/", views.ApplicantSignInView.as_view(), name="auth-applicant"),
    path("auth/logout/", views.LogoutView.as_view(), name="auth-logout"),
    path("offices/", views.OfficeListView.as_view(), name="office-list"),
    path("offices/<rto_code:code>/", views.OfficeDetailView.as_view(), name="office-detail"),
    path(
        "offices/<rto_code:code>/availability/",
        views.AvailabilityView.as_view(),
        name="office-availability",
    ),
    path("applicants/", views.ApplicantRegisterView.as_view(), name="applicant-register"),
    path("applicants/me/", views.ApplicantMeView.as_view(), name="applicant-me"),
    path("applicants/recover/", views.ApplicantRecoverView.as_view(), name="applicant-recover"),
    path(
        "applicants/verify-mobile/",
        views.VerifyMobileView.as_view(),
        name="applicant-verify-mobile",
    ),
    path(
        "applicants/verify-mobile/resend/",
        views.VerifyMobileResendView.as_view(),
        name="applicant-verify-mobile-resend",
    ),
    path("bookings/", views.BookingListCreateView.as_view(), name="booking-list"),
    path(
        "bookings/<booking_ref:reference>/",
        views.BookingDetailView.as_view(),
        name="booking-detail",
    ),
    path(
        "bookings/<booking_ref:reference>/reschedule/",
        views.BookingRescheduleView.as_view(),
        name="booking-reschedule",
    ),
    path(
        "bookings/<booking_ref:reference>/cancel/",
        views.BookingCancelView.as_view(),
        name="booking-cancel",
    ),
    path(
        "bookings/<booking_ref:reference>/check-in/",
        views.BookingCheckInView.as_view(),
        name="booking-check-in",
    ),
    path("ballot/", views.BallotEntryListView.as_view(), name="ballot-list"),
    path("waitlist/", views.WaitlistListCreateView.as_view(), name="waitlist-list"),
    path("waitlist/<int:id>/", views.WaitlistDetailView.as_view(), name="waitlist-detail"),
    path("offers/", views.OfferListView.as_view(), name="offer-list"),
    path("offers/<int:id>/accept/", views.OfferAcceptView.as_view(), name="offer-accept"),
    path("offers/<int:id>/decline/", views.OfferDeclineView.as_view(), name="offer-decline"),
    path("outages/", views.OutageListCreateView.as_view(), name="outage-list"),
    path("outages/preview/", views.OutagePreviewView.as_view(), name="outage-preview"),
    path("outages/<int:id>/", views.OutageDetailView.as_view(), name="outage-detail"),
    path("outages/<int:id>/resolve/", views.OutageResolveView.as_view(), name="outage-resolve"),
    path("alerts/", alerts.AlertWebhookView.as_view(), name="alerts"),
    path("sms/delivery/", delivery.DeliveryReportView.as_view(), name="sms-delivery"),
    path(
        "sms/delivery/gupshup/",
        delivery.GupshupDeliveryReportView.as_view(),
        name="sms-delivery-gupshup",
    ),
    path("outage-proposals/", alerts.ProposalListView.as_view(), name="outage-proposal-list"),
    path(
        "outage-proposals/<int:id>/confirm/",
        alerts.ProposalConfirmView.as_view(),
        name="outage-proposal-confirm",
    ),
]

app_name = "api"
urlpatterns = [
    path("v1/", include((v1, "v1"))),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        # The split view serves its start-up script as a file (?script): no inline script.
        "docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api:schema"),
        name="docs",
    ),
    re_path(r"^.*$", views.NotFoundView.as_view(), name="not-found"),
]
