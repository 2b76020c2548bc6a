from django.contrib import admin

from applicants.models import Applicant
from rto_booking.admin_scoping import OfficeScopedAdminMixin


@admin.register(Applicant)
class ApplicantAdmin(OfficeScopedAdminMixin, admin.ModelAdmin):
    # A clerk sees the applicants who have (or had) a booking at one of the clerk's offices.
    office_lookup = "bookings__office"
    list_display = [
        "application_number",
        "full_name",
        "mobile",
        "email",
        "preferred_language",
        "created_at",
    ]
    list_filter = ["preferred_language"]
    search_fields = ["application_number", "full_name", "mobile", "email"]
