"""Forms and reads behind the clerk admin's own pages (see slots/admin.py and docs/ADMIN.md).

The pages themselves are ModelAdmin methods (they need the admin's scoping); the forms they
validate and the progress numbers an outage page polls live here. Reads (the day sheet) are
selectors (slots/selectors.py); writes are services.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from rto_booking.bounds import BoundedFormDateField, BoundedFormDateTimeField
from slots.models import Office, Outage, Service
from slots.outage_reasons import STANDARD_REASONS, STANDARD_REASONS_BY_KEY

MARK_DOWN_DEFAULT_HOURS = 4
EXTEND_MAX_HOURS = 72


def _minute(value: datetime) -> datetime:
    return value.replace(second=0, microsecond=0)


def standard_reason_choices():
    """The standard reasons as the clerk reads them: in English beside their Hindi (what the
    applicants will read), in Hindi alone on a Hindi page. A callable: evaluated per form, in
    the language of the request."""
    hindi = (get_language() or "en").startswith("hi")
    return [("", _("— none: type the reason in both languages below —"))] + [
        (reason.key, reason.hi if hindi else f"{reason.en} / {reason.hi}")
        for reason in STANDARD_REASONS
    ]


class LocalDateTimeInput(forms.DateTimeInput):
    """The browser's own date-and-time picker; values are local (Asia/Kolkata) wall time."""

    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%dT%H:%M")


# --- Mark a service down ----------------------------------------------------------------------


class OutageMarkDownForm(forms.Form):
    offices = forms.ModelMultipleChoiceField(
        label=_("Offices"),
        queryset=Office.objects.none(),
        widget=forms.CheckboxSelectMultiple,
    )
    services = forms.ModelMultipleChoiceField(
        label=_("Services down"),
        queryset=Service.objects.order_by("sort_order", "slug"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Leave all unticked when every service of the office is down."),
    )
    starts_at = BoundedFormDateTimeField(label=_("Down since"), widget=LocalDateTimeInput())
    expected_end = BoundedFormDateTimeField(
        label=_("Expected back"),
        widget=LocalDateTimeInput(),
        required=False,
        help_text=_(
            "Leave empty when nobody knows (until further notice): the bookings of the next "
            "hours are put on hold and their applicants told not to come."
        ),
    )
    capacity_percent = forms.IntegerField(
        label=_("Share of seats that still run (per cent)"),
        min_value=0,
        max_value=99,
        initial=0,
        required=False,
        help_text=_(
            "0: the service is down. 1–99: it runs at that share of each slot's seats, e.g. 25 "
            "when one counter of four works; only the bookings over it move."
        ),
    )
    standard_reason = forms.ChoiceField(
        label=_("Standard reason"),
        required=False,
        choices=standard_reason_choices,
        help_text=_(
            "Pick one and its English and Hindi are used (a text typed below wins for its "
            "language), so applicants reading Hindi never see English."
        ),
    )
    reason = forms.CharField(
        label=_("Reason (English)"),
        max_length=300,
        required=False,
        help_text=_("Shown to applicants, e.g. “Photo-capture server down”."),
    )
    reason_hi = forms.CharField(
        label=_("Reason (Hindi)"),
        max_length=300,
        required=False,
        help_text=_("Required unless a standard reason is picked: shown on Hindi pages and SMS."),
    )

    def __init__(self, *args, offices, now: datetime, **kwargs):
        super().__init__(*args, **kwargs)
        self.now = now
        self.fields["offices"].queryset = offices
        if not self.is_bound:
            local_now = _minute(timezone.localtime(now))
            self.initial.setdefault("starts_at", local_now)
            self.initial.setdefault(
                "expected_end", local_now + timedelta(hours=MARK_DOWN_DEFAULT_HOURS)
            )
            only = list(offices[:2])
            if len(only) == 1:
                self.initial.setdefault("offices", only)

    def clean(self):
        data = super().clean()
        standard = STANDARD_REASONS_BY_KEY.get(data.get("standard_reason") or "")
        data["reason"] = (data.get("reason") or "").strip() or (standard.en if standard else "")
        data["reason_hi"] = (data.get("reason_hi") or "").strip() or (
            standard.hi if standard else ""
        )
        if not data["reason"] and "reason" not in self.errors:
            self.add_error("reason", _("Give the reason in English, or pick a standard reason."))
        if not data["reason_hi"] and "reason_hi" not in self.errors:
            self.add_error(
                "reason_hi", _("Give the reason in Hindi too, or pick a standard reason.")
            )
        starts_at, expected_end = data.get("starts_at"), data.get("expected_end")
        if starts_at and expected_end:
            if expected_end <= starts_at:
                self.add_error("expected_end", _("The expected end must be after the start."))
            elif expected_end <= self.now:
                self.add_error("expected_end", _("The expected end must be in the future."))
        return data


class OutageExtendForm(forms.Form):
    hours = forms.IntegerField(
        label=_("Extend by (hours)"), min_value=1, max_value=EXTEND_MAX_HOURS, initial=4
    )


# --- Progress -------------------------------------------------------------------------------


def outage_progress(outage: Outage) -> dict:
    """What the progress bar shows; the JSON the outage page polls."""
    handled = outage.moved + outage.needs_new_slot + outage.on_hold
    finished = outage.state == Outage.State.DONE
    if outage.affected:
        percent = min(100, round(100 * handled / outage.affected))
    else:
        percent = 100 if finished else 0
    return {
        "id": outage.pk,
        "state": outage.state,
        "state_label": str(outage.get_state_display()),
        "affected": outage.affected,
        "moved": outage.moved,
        "needs_new_slot": outage.needs_new_slot,
        "on_hold": outage.on_hold,
        "notified": outage.notified,
        "handled": handled,
        "percent": percent,
        # <progress max=…> must be positive; an outage that moved nobody is simply full.
        "bar_max": max(outage.affected, 1),
        "bar_value": handled if outage.affected else (1 if finished else 0),
        "finished": finished,
        "failed": outage.state == Outage.State.FAILED,
        "resolved": outage.resolved_at is not None,
        "last_error": outage.last_error[:300],
    }


# --- Day sheet ---------------------------------------------------------------------------


class CallListForm(forms.Form):
    office = forms.ModelChoiceField(
        label=_("Office"), queryset=Office.objects.none(), to_field_name="code"
    )
    service = forms.ModelChoiceField(
        label=_("Service"),
        queryset=Service.objects.order_by("sort_order", "slug"),
        to_field_name="slug",
        required=False,
        empty_label=_("All services"),
    )

    def __init__(self, *args, offices, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["office"].queryset = offices


class DaySheetForm(forms.Form):
    office = forms.ModelChoiceField(
        label=_("Office"), queryset=Office.objects.none(), to_field_name="code"
    )
    date = BoundedFormDateField(
        label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    service = forms.ModelChoiceField(
        label=_("Service"),
        queryset=Service.objects.order_by("sort_order", "slug"),
        to_field_name="slug",
    )

    def __init__(self, *args, offices, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["office"].queryset = offices
