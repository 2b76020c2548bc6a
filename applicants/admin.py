from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from applicants.models import Applicant
from applicants.selectors import applicant_date_of_birth_matches
from rto_booking.admin_scoping import OfficeScopedAdminMixin
from rto_booking.admin_text import yes_no_icon
from rto_booking.signin_limits import FailureLimit, SignInFailureCounter


class DateOfBirthCheckForm(forms.Form):
    # Any date a form can parse is safe to compare (PostgreSQL dates span years 1 to 9999).
    date_of_birth = forms.DateField(
        label=_("Date of birth the applicant tells you"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )


def _dob_check_counter(request, applicant) -> SignInFailureCounter:
    """Wrong dates checked by one staff user for one applicant: the check confirms a date the
    applicant says at the counter; it must not become a way to find the date by trying."""
    return SignInFailureCounter(
        [
            FailureLimit(
                "admin-dob-check",
                f"{request.user.pk}:{applicant.pk}",
                settings.ADMIN_DOB_CHECK_FAILURES,
                3600,
            )
        ]
    )


class MobileVerifiedFilter(admin.SimpleListFilter):
    title = _("mobile verified")
    parameter_name = "mobile_verified"

    def lookups(self, request, model_admin):
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(mobile_verified_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(mobile_verified_at__isnull=True)
        return queryset


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
        "mobile_verified",
        "created_at",
    ]
    list_filter = [MobileVerifiedFilter, "preferred_language"]
    # Set only by the applicant entering the code sent to the mobile (applicants.services).
    readonly_fields = ["mobile_verified_at"]
    search_fields = ["application_number", "full_name", "mobile", "email"]
    # The date of birth is the applicant's password (sign-in is number + date): staff never see
    # it, they check a date the applicant tells them (the form on the applicant's page).
    exclude = ["date_of_birth"]
    change_form_template = "admin/applicants/applicant/change_form.html"

    def get_urls(self):
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path(
                "<path:object_id>/check-date-of-birth/",
                self.admin_site.admin_view(self.check_date_of_birth_view),
                name=f"{info}_check_date_of_birth",
            ),
            *super().get_urls(),
        ]

    @admin.display(description=_("mobile verified"), ordering="mobile_verified_at")
    def mobile_verified(self, obj):
        return yes_no_icon(obj.mobile_verified_at is not None)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = {"dob_form": DateOfBirthCheckForm(), **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra)

    def check_date_of_birth_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        applicant = self.get_object(request, object_id)
        if applicant is None or not self.has_view_permission(request, applicant):
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        back = reverse("admin:applicants_applicant_change", args=[applicant.pk])
        counter = _dob_check_counter(request, applicant)
        form = DateOfBirthCheckForm(request.POST)
        if counter.retry_after() is not None:
            self.message_user(
                request,
                gettext("Too many wrong dates checked for this applicant. Try again later."),
                messages.ERROR,
            )
        elif not form.is_valid():
            self.message_user(request, gettext("Enter a date to check."), messages.ERROR)
        elif applicant_date_of_birth_matches(
            applicant=applicant, date_of_birth=form.cleaned_data["date_of_birth"]
        ):
            self.message_user(
                request, gettext("Match: this is the applicant's date of birth."), messages.SUCCESS
            )
        else:
            counter.record_failure()
            self.message_user(
                request,
                gettext("No match: this is not the date of birth on record."),
                messages.WARNING,
            )
        return HttpResponseRedirect(back)
