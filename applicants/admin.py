from django.contrib import admin

from applicants.models import Applicant


@admin.register(Applicant)
class ApplicantAdmin(admin.ModelAdmin):
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
