"""The clerk admin (docs/ADMIN.md): every page scoped to the clerk's offices.

Every ModelAdmin mixes in `OfficeScopedAdminMixin` (rto_booking/admin_scoping.py). Writes with rules
(marking a service down, extending, resolving, undoing, checking in, no-shows, closures on
booked days) call the service functions; what clerks do is recorded as admin LogEntry rows, so
"Recent actions" and each object's history say who did what.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.models import LogEntry
from django.contrib.admin.utils import unquote
from django.contrib.admin.views.main import PAGE_VAR
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from notifications.models import Notification
from rto_booking.admin_scoping import (
    OfficeListFilter,
    OfficeScopedAdminMixin,
    clerk_office_ids,
    clerk_offices,
)
from rto_booking.admin_text import english
from rto_booking.formats import format_date, format_datetime, format_time
from slots.admin_views import (
    CallListForm,
    DaySheetForm,
    OutageExtendForm,
    OutageMarkDownForm,
    outage_progress,
)
from slots.errors import BookingError, Busy
from slots.models import (
    BallotEntry,
    Booking,
    BookingEvent,
    Closure,
    ExtraSession,
    Offer,
    Offering,
    Office,
    Outage,
    OutageEvent,
    Service,
    Slot,
    WaitlistEntry,
    WeeklySession,
)
from slots.selectors import booking_events_with_undone, call_list, day_sheet, no_show_rates
from slots.services.bookings import booking_check_in, booking_mark_no_show, check_in_open
from slots.services.capacity import (
    CapacityInvalid,
    closure_save,
    extra_session_delete,
    extra_session_save,
    offering_slots_refresh,
    recovery_sessions_add,
    slot_capacity_set,
)
from slots.services.outage_undo import (
    OutageUndoRefused,
    outage_undo,
    outage_undo_available,
    outage_undo_deadline,
)
from slots.services.outages import (
    OutageInvalid,
    outage_create,
    outage_extend,
    outage_preview,
    outage_resolve,
)
from slots.told import outage_told

# Hidden on pages whose fields are all read-only: changes go through buttons and actions.
NO_SAVE_BUTTONS = {
    "show_save": False,
    "show_save_and_continue": False,
    "show_save_and_add_another": False,
}


def _when(value) -> str:
    return format_datetime(value) if value else "—"


def _admin_url(opts, name: str, *args) -> str:
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{name}", args=args)


# --- Offices, services ----------------------------------------------------------------------


@admin.register(Office)
class OfficeAdmin(OfficeScopedAdminMixin, admin.ModelAdmin):
    office_lookup = "pk"
    list_display = ["code", "name", "name_hi", "district", "state", "is_active"]
    list_filter = ["state", "is_active"]
    search_fields = ["code", "name", "name_hi", "district"]
    filter_horizontal = ["clerks"]


@admin.register(Service)
class ServiceAdmin(OfficeScopedAdminMixin, admin.ModelAdmin):
    office_lookup = None  # the shared catalogue: the same services everywhere
    # No slug column: people read names (the code is on the service's page).
    list_display = ["shown_name", "english_name", "name_hi", "slot_minutes", "sort_order"]
    search_fields = ["slug", "name", "name_hi"]

    @admin.display(description=_("name"), ordering="name")
    def shown_name(self, obj):
        return obj.display_name

    @admin.display(description=_("name (English)"), ordering="name")
    def english_name(self, obj):
        return english(obj.name)


# --- Capacity: sessions, extra sessions, closures, slots ------------------------------------


def _slots_refreshed(request, result) -> None:
    messages.info(
        request,
        gettext("Slots updated from the sessions: %(created)s new, %(updated)s changed.")
        % {"created": result.created, "updated": result.updated},
    )


class HistoryEntry:
    """A row of an object's history page, shaped like the admin's LogEntry for its template:
    the domain's own history (BookingEvent, OutageEvent) shown beside the admin's log."""

    def __init__(self, *, action_time, user, message: str):
        self.action_time, self.user, self.message = action_time, user, message

    def get_change_message(self) -> str:
        return self.message


class _NoUser:
    """Who did it when nobody did: the applicant themself, or the system."""

    def __init__(self, label: str):
        self.label = label

    def get_username(self) -> str:
        return self.label

    def get_full_name(self) -> str:
        return ""


def with_domain_history(model_admin, request, response, history: Callable[[object], list]):
    """Django's history page of an object (scoped, permission-checked and paginated by the
    admin itself), with the object's domain history merged into the admin's log, oldest
    first: who moved, checked in or cancelled a booking; who declared, extended, resolved or
    undid an outage — in the admin and through the staff API alike."""
    if not isinstance(response, TemplateResponse) or "object" not in (response.context_data or {}):
        return response  # not found (a redirect) or not allowed
    obj = response.context_data["object"]
    logged = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(type(obj)), object_id=str(obj.pk)
    ).select_related("user")
    rows = history(obj) + [
        HistoryEntry(action_time=e.action_time, user=e.user, message=e.get_change_message())
        for e in logged
    ]
    rows.sort(key=lambda row: row.action_time)
    paginator = model_admin.get_paginator(request, rows, 100)
    page = paginator.get_page(request.GET.get(PAGE_VAR, 1))
    response.context_data.update(
        action_list=page,
        page_range=paginator.get_elided_page_range(page.number),
        pagination_required=paginator.count > 100,
    )
    return response


class ExtraSessionForm(forms.ModelForm):
    class Meta:
        model = ExtraSession
        fields = [
            "offering",
            "date",
            "start_time",
            "end_time",
            "slot_minutes",
            "seats_per_slot",
            "priority_reserve",
            "note",
        ]

    def clean_date(self):
        day = self.cleaned_data["date"]
        if day < timezone.localdate() and (not self.instance.pk or "date" in self.changed_data):
            raise forms.ValidationError(_("An extra session cannot be added in the past."))
        return day


class WeeklySessionInline(OfficeScopedAdminMixin, admin.TabularInline):
    model = WeeklySession
    office_lookup = "offering__office"
    extra = 0


class ExtraSessionInline(OfficeScopedAdminMixin, admin.TabularInline):
    model = ExtraSession
    office_lookup = "offering__office"
    form = ExtraSessionForm
    extra = 0


@admin.register(Offering)
class OfferingAdmin(OfficeScopedAdminMixin, admin.ModelAdmin):
    """Capacity is edited here: weekly sessions and one-off extra sessions, inline."""

    list_display = ["office", "service", "is_active"]
    list_filter = [("office", OfficeListFilter), "service", "is_active"]
    search_fields = ["office__code", "office__name", "service__slug"]
    list_select_related = ["office", "service"]
    inlines = [WeeklySessionInline, ExtraSessionInline]

    def get_readonly_fields(self, request, obj=None):
        # Supervisors change an offering only to edit its sessions.
        if request.user.is_superuser:
            return ()
        return ("office", "service", "is_active")

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        weekly_changed, dates = False, set()
        for formset in formsets:
            touched = formset.new_objects or formset.changed_objects or formset.deleted_objects
            if not touched:
                continue
            if formset.model is WeeklySession:
                weekly_changed = True
            for inline_form in formset.forms:
                if formset.model is ExtraSession and inline_form.has_changed():
                    dates.add(inline_form.initial.get("date"))
                    dates.add(inline_form.cleaned_data.get("date"))
        if weekly_changed or dates:
            result = offering_slots_refresh(
                offering=form.instance, weekly_changed=weekly_changed, dates=dates
            )
            _slots_refreshed(request, result)


@admin.register(ExtraSession)
class ExtraSessionAdmin(OfficeScopedAdminMixin, admin.ModelAdmin):
    """One-off capacity, e.g. to recover after an outage; its slots exist once it is saved."""

    office_lookup = "offering__office"
    form = ExtraSessionForm
    list_display = [
        "date",
        "offering",
        "start_time",
        "end_time",
        "slot_minutes",
        "seats_per_slot",
        "priority_reserve",
        "note",
    ]
    list_filter = [("offering__office", OfficeListFilter), "offering__service"]
    date_hierarchy = "date"
    list_select_related = ["offering__office", "offering__service"]

    def save_model(self, request, obj, form, change):
        result = extra_session_save(
            session=obj,
            previous_date=form.initial.get("date"),
            previous_offering_id=form.initial.get("offering"),
        )
        _slots_refreshed(request, result)

    def delete_model(self, request, obj):
        _slots_refreshed(request, extra_session_delete(session=obj))


@admin.register(Closure)
class ClosureAdmin(OfficeScopedAdminMixin, admin.ModelAdmin):
    """A closure on a day with bookings moves them like an outage would (docs/ADMIN.md)."""

    list_display = ["date", "office", "service", "shown_reason"]
    list_filter = [("office", OfficeListFilter), "service"]
    date_hierarchy = "date"
    search_fields = ["reason", "reason_hi", "office__code"]
    list_select_related = ["office", "service"]

    @admin.display(description=_("reason"), ordering="reason")
    def shown_reason(self, obj):
        # The reason in the clerk's language (both are edited on the closure's page).
        return obj.display_reason

    def save_model(self, request, obj, form, change):
        moved = not change or bool({"date", "office", "service"} & set(form.changed_data))
        outage = closure_save(closure=obj, acting_user=request.user, moved=moved)
        if outage is None:
            return
        messages.warning(
            request,
            format_html(
                '{} <a href="{}">{}</a>',
                gettext("That day had bookings: they are being moved as for an outage."),
                _admin_url(Outage._meta, "change", outage.pk),
                gettext("Watch the progress"),
            ),
        )


class SlotForm(forms.ModelForm):
    class Meta:
        model = Slot
        fields = ["offering", "starts_at", "ends_at", "capacity", "priority_reserve"]

    def clean(self):
        data = super().clean()
        capacity = data.get("capacity")
        taken = self.instance.booked + self.instance.held_offers  # offers' seats are taken
        if capacity is not None and capacity < taken:
            self.add_error(
                "capacity",
                _("%(booked)s seats are already booked; capacity cannot be lower.")
                % {"booked": taken},
            )
        reserve = data.get("priority_reserve")
        if capacity is not None and reserve is not None and reserve > capacity:
            self.add_error("priority_reserve", _("Cannot hold more seats than the capacity."))
        return data


@admin.register(Slot)
class SlotAdmin(OfficeScopedAdminMixin, admin.ModelAdmin):
    form = SlotForm
    list_display = [
        "starts_at",
        "ends_at",
        "office",
        "service",
        "capacity",
        "booked",
        "held_offers",
        "priority_reserve",
    ]
    list_filter = [("office", OfficeListFilter), "service"]
    date_hierarchy = "starts_at"
    list_select_related = ["office", "service"]
    raw_id_fields = ["offering"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ("office", "service", "booked", "held_offers")
        # A slot's time belongs to the bookings in it: only its seats may change.
        return ("offering", "office", "service", "starts_at", "ends_at", "booked", "held_offers")

    def save_model(self, request, obj, form, change):
        if change:
            # Only the seats change on an existing slot, through the service (row lock, never
            # below what is booked).
            try:
                slot_capacity_set(
                    slot=obj, capacity=obj.capacity, priority_reserve=obj.priority_reserve
                )
            except CapacityInvalid as error:
                self.message_user(request, str(error.message), messages.ERROR)
            return
        obj.office_id = obj.offering.office_id
        obj.service_id = obj.offering.service_id
        super().save_model(request, obj, form, change)


# --- Bookings -------------------------------------------------------------------------------


class BookingEventInline(OfficeScopedAdminMixin, admin.TabularInline):
    model = BookingEvent
    office_lookup = "booking__office"
    extra = 0
    can_delete = False
    fields = [
        "at",
        "kind",
        "actor",
        "actor_user",
        "from_starts_at",
        "to_starts_at",
        "outage",
        "display_reason",
    ]
    readonly_fields = fields
    verbose_name_plural = _("history")

    def get_queryset(self, request):
        return booking_events_with_undone(super().get_queryset(request)).select_related("outage")

    @admin.display(description=_("reason"))
    def display_reason(self, event):
        # The outage's reason in the clerk's language (the row stores the English one).
        if event.outage_id and not event.is_false_alarm:
            return event.outage.display_reason
        return event.display_reason

    def has_add_permission(self, request, obj=None):
        return False


class NotificationInline(OfficeScopedAdminMixin, admin.TabularInline):
    model = Notification
    office_lookup = "booking__office"
    extra = 0
    can_delete = False
    fields = ["created_at", "channel", "kind", "language", "recipient", "status", "sent_at"]
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Booking)
class BookingAdmin(OfficeScopedAdminMixin, admin.ModelAdmin):
    """Bookings are made, moved and cancelled by the services: here they are read, checked in
    and marked no-show (actions and buttons), and printed on the day sheet."""

    list_display = [
        "reference",
        "applicant_name",
        "application_number",
        "mobile",
        "office",
        "service",
        "slot_start",
        "status_shown",
        "priority",
    ]
    list_filter = [("office", OfficeListFilter), "service", "status", "priority"]
    date_hierarchy = "slot__starts_at"
    search_fields = ["reference", "applicant__application_number", "applicant__mobile"]
    list_select_related = ["applicant", "office", "service", "slot"]
    fields = [
        "reference",
        "applicant",
        "office",
        "service",
        "slot",
        "status",
        "held_by",
        "priority",
        "self_reschedules",
        "created_at",
        "confirmed_at",
        "updated_at",
    ]
    readonly_fields = fields
    inlines = [BookingEventInline, NotificationInline]
    actions = ["check_in", "mark_no_show"]
    change_list_template = "admin/slots/booking/change_list.html"
    change_form_template = "admin/slots/booking/change_form.html"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("name"), ordering="applicant__full_name")
    def applicant_name(self, obj):
        return obj.applicant.full_name

    @admin.display(description=_("application number"), ordering="applicant__application_number")
    def application_number(self, obj):
        return obj.applicant.application_number

    @admin.display(description=_("mobile"))
    def mobile(self, obj):
        return obj.applicant.mobile

    @admin.display(description=_("slot"), ordering="slot__starts_at")
    def slot_start(self, obj):
        return _when(obj.slot.starts_at)

    @admin.display(description=_("status"), ordering="status")
    def status_shown(self, obj):
        # A held booking is still on the office's books but its applicant will not come.
        if obj.status == Booking.Status.ON_HOLD:
            return format_html(
                '<strong class="status-on-hold">{}</strong>', gettext("On hold: do not expect")
            )
        return obj.get_status_display()

    # Check-in and no-show, from the list (actions) or a booking's page (buttons).

    def _finish(self, request, bookings, *, service, done_message) -> None:
        done, refused = [], []
        for booking in bookings:
            try:
                service(booking=booking, acting_user=request.user)
            except BookingError as error:
                refused.append((booking.reference, str(error.message)))
            else:
                done.append(booking)
        if done:
            self.message_user(
                request, done_message(len(done)) % {"count": len(done)}, messages.SUCCESS
            )
        for reference, reason in refused[:20]:
            self.message_user(
                request,
                gettext("%(reference)s not changed: %(reason)s")
                % {"reference": reference, "reason": reason},
                messages.WARNING,
            )
        if len(refused) > 20:
            self.message_user(
                request,
                gettext("…and %(count)s more not changed.") % {"count": len(refused) - 20},
                messages.WARNING,
            )

    def _check_in(self, request, bookings):
        self._finish(
            request,
            bookings,
            service=booking_check_in,
            done_message=lambda n: ngettext(
                "%(count)s applicant checked in.", "%(count)s applicants checked in.", n
            ),
        )

    def _no_show(self, request, bookings):
        self._finish(
            request,
            bookings,
            service=booking_mark_no_show,
            done_message=lambda n: ngettext(
                "%(count)s booking marked as no-show.", "%(count)s bookings marked as no-show.", n
            ),
        )

    @admin.action(description=_("Check in the selected applicants"), permissions=["change"])
    def check_in(self, request, queryset):
        self._check_in(request, list(queryset.select_related("slot")))

    @admin.action(description=_("Mark the selected bookings as no-show"), permissions=["change"])
    def mark_no_show(self, request, queryset):
        self._no_show(request, list(queryset.select_related("slot")))

    def get_urls(self):
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        wrap = self.admin_site.admin_view
        return [
            path("day-sheet/", wrap(self.day_sheet_view), name=f"{info}_day_sheet"),
            path("call-list/", wrap(self.call_list_view), name=f"{info}_call_list"),
            path("no-shows/", wrap(self.no_shows_view), name=f"{info}_no_shows"),
            path(
                "<path:object_id>/check-in/",
                wrap(self.check_in_view),
                name=f"{info}_check_in",
            ),
            path(
                "<path:object_id>/no-show/",
                wrap(self.no_show_view),
                name=f"{info}_no_show",
            ),
            *super().get_urls(),
        ]

    def _booking_for_action(self, request, object_id):
        return self.object_for_action(request, object_id, gettext("No such booking."))

    def check_in_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        booking = self._booking_for_action(request, object_id)
        self._check_in(request, [booking])
        return HttpResponseRedirect(_admin_url(self.opts, "change", booking.pk))

    def no_show_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        booking = self._booking_for_action(request, object_id)
        self._no_show(request, [booking])
        return HttpResponseRedirect(_admin_url(self.opts, "change", booking.pk))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "POST":
            # Nothing on this page is edited in place; the buttons post to their own URLs.
            return HttpResponseRedirect(request.path)
        booking = self.get_object(request, unquote(object_id))
        extra = {**NO_SAVE_BUTTONS, **(extra_context or {})}
        if booking is not None:
            extra["can_act"] = (
                self.has_change_permission(request, booking)
                and booking.status == Booking.Status.CONFIRMED
            )
            extra["can_no_show"] = extra["can_act"] and booking.slot.ends_at <= timezone.now()
            extra["can_check_in"] = extra["can_act"] and check_in_open(
                starts_at=booking.slot.starts_at, now=timezone.now()
            )
        return super().change_view(request, object_id, form_url, extra)

    def history_view(self, request, object_id, extra_context=None):
        response = super().history_view(request, object_id, extra_context)
        return with_domain_history(self, request, response, booking_history)

    def _office_param_allowed(self, request):
        """The clerk's offices; 403 for another office named in ?office=, 404 for none."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        offices = clerk_offices(request)
        code = request.GET.get("office")
        if code and not offices.filter(code=code).exists():
            if Office.objects.filter(code=code).exists():
                raise PermissionDenied
            raise Http404(gettext("No such office."))
        initial = {}
        mine = list(offices[:2])
        if len(mine) == 1:
            initial["office"] = mine[0].code
        return offices, initial

    def day_sheet_view(self, request):
        """The printable list of one office × service × day, grouped by slot time; the
        office's call list follows it on the same sheet."""
        offices, initial = self._office_param_allowed(request)
        initial["date"] = timezone.localdate()
        form = DaySheetForm(request.GET or None, offices=offices, initial=initial)
        sheet = calls = None
        if form.is_bound and form.is_valid():
            sheet = day_sheet(
                office=form.cleaned_data["office"],
                service=form.cleaned_data["service"],
                day=form.cleaned_data["date"],
            )
            calls = call_list(
                office=form.cleaned_data["office"], service=form.cleaned_data["service"]
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Day sheet"),
            "form": form,
            "sheet": sheet,
            "calls": calls,
            "shown": sheet is not None,
            "printed_at": timezone.now(),
            "has_view_permission": True,
        }
        return TemplateResponse(request, "admin/slots/booking/day_sheet.html", context)

    def call_list_view(self, request):
        """The office's bookings that need a new slot: whom to call (printable)."""
        offices, initial = self._office_param_allowed(request)
        data = request.GET or None
        if data is None and "office" in initial:
            data = {"office": initial["office"]}
        form = CallListForm(data, offices=offices, initial=initial)
        calls = office = None
        if form.is_bound and form.is_valid():
            office = form.cleaned_data["office"]
            calls = call_list(office=office, service=form.cleaned_data["service"])
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Call list"),
            "form": form,
            "office": office,
            "calls": calls,
            "shown": calls is not None,
            "printed_at": timezone.now(),
            "has_view_permission": True,
        }
        return TemplateResponse(request, "admin/slots/booking/call_list.html", context)

    def no_shows_view(self, request):
        """Attended and no-shows of the clerk's offices, per service and week (8 weeks)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("No-shows"),
            "tables": no_show_rates(office_ids=clerk_office_ids(request)),
            "has_view_permission": True,
        }
        return TemplateResponse(request, "admin/slots/booking/no_shows.html", context)


# --- Outages --------------------------------------------------------------------------------


@admin.register(Outage)
class OutageAdmin(OfficeScopedAdminMixin, admin.ModelAdmin):
    """Mark a service down (preview, then confirm), watch the move live, extend, resolve, undo.

    Nothing here saves an Outage through the model form: the add page calls `outage_create`,
    the buttons call `outage_extend`, `outage_resolve` and `outage_undo`.
    """

    office_lookup = "offices"
    list_display = [
        "number",
        "shown_reason",
        "office_codes",
        "service_names",
        "starts_at",
        "expected_end",
        "capacity_percent",
        "resolved_at",
        "state",
        "progress_summary",
    ]
    list_display_links = ["number", "shown_reason"]
    list_filter = ["state", ("offices", OfficeListFilter), "services"]
    search_fields = ["reason", "reason_hi"]
    date_hierarchy = "starts_at"
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "reason_in_english",
                    "reason_hi",
                    "office_codes",
                    "service_names",
                    "starts_at",
                    "expected_end",
                    "capacity_percent",
                    "resolved_at",
                    "recorded_by",
                    "created_at",
                ]
            },
        ),
        (
            # The live numbers are in the progress panel above the form.
            _("Last run"),
            {"fields": ["run_started_at", "run_finished_at"], "classes": ["collapse"]},
        ),
    ]
    readonly_fields = [name for _title, options in fieldsets for name in options["fields"]]
    change_form_template = "admin/slots/outage/change_form.html"
    change_list_template = "admin/slots/outage/change_list.html"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("offices", "services")

    @admin.display(description="#", ordering="pk")
    def number(self, obj):
        return obj.pk

    @admin.display(description=_("reason"), ordering="reason")
    def shown_reason(self, obj):
        # In the clerk's language: the Hindi reason on a Hindi page.
        return obj.display_reason

    @admin.display(description=_("reason (English)"))
    def reason_in_english(self, obj):
        return english(obj.reason)

    @admin.display(description=_("offices"))
    def office_codes(self, obj):
        return ", ".join(o.code for o in obj.offices.all())

    @admin.display(description=_("services"))
    def service_names(self, obj):
        return ", ".join(s.display_name for s in obj.services.all()) or gettext("all services")

    @admin.display(description=_("recorded by"))
    def recorded_by(self, obj):
        # Plain text: clerks may not open user accounts, so no link.
        return obj.created_by.get_username() if obj.created_by else "—"

    @admin.display(description=_("progress"))
    def progress_summary(self, obj):
        return gettext("%(handled)s of %(affected)s") % {
            "handled": obj.moved + obj.needs_new_slot + obj.on_hold,
            "affected": obj.affected,
        }

    def get_urls(self):
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        wrap = self.admin_site.admin_view
        # Before the default URLs: their "<path:object_id>/" would swallow these.
        return [
            path(
                "<path:object_id>/progress/",
                wrap(self.progress_view),
                name=f"{info}_progress",
            ),
            path("<path:object_id>/extend/", wrap(self.extend_view), name=f"{info}_extend"),
            path("<path:object_id>/resolve/", wrap(self.resolve_view), name=f"{info}_resolve"),
            path("<path:object_id>/undo/", wrap(self.undo_view), name=f"{info}_undo"),
            *super().get_urls(),
        ]

    # Mark a service down: a two-step form, preview then confirm.

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        now = timezone.now()
        offices = clerk_offices(request)
        preview = None
        if request.method == "POST":
            form = OutageMarkDownForm(request.POST, offices=offices, now=now)
            if "_edit" not in request.POST and form.is_valid():
                data = form.cleaned_data
                try:
                    if "_confirm" in request.POST:
                        outage = self._mark_down(request, data)
                        return HttpResponseRedirect(_admin_url(self.opts, "change", outage.pk))
                    preview = self._preview(data, now)
                    if "_add_sessions" in request.POST and preview.proposed_sessions:
                        self._add_recovery_sessions(request, data, preview)
                        preview = self._preview(data, now)
                except OutageInvalid as error:
                    for name, problems in (error.fields or {None: [error.message]}).items():
                        for problem in problems:
                            form.add_error(name if name in form.fields else None, str(problem))
        else:
            form = OutageMarkDownForm(offices=offices, now=now)
        context = {
            **self.admin_site.each_context(request),
            **(extra_context or {}),
            "opts": self.opts,
            "title": _("Mark a service down"),
            "form": form,
            "preview": preview,
            "has_view_permission": self.has_view_permission(request),
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/slots/outage/mark_down.html", context)

    @staticmethod
    def _preview(data, now):
        return outage_preview(
            offices=list(data["offices"]),
            services=list(data["services"]),
            starts_at=data["starts_at"],
            expected_end=data["expected_end"],
            capacity_percent=data["capacity_percent"] or 0,
            now=now,
        )

    def _add_recovery_sessions(self, request, data, preview) -> None:
        """Add the extra sessions the preview proposes (worked out again here, from the same
        choices: what is added is what the clerk saw, as of now)."""
        sessions = preview.proposed_sessions
        recovery_sessions_add(
            sessions=sessions,
            note=gettext("Recovery capacity: %(reason)s") % {"reason": data["reason"]},
        )
        self.message_user(
            request,
            ngettext(
                "%(count)s extra session added. Check the preview again, then confirm.",
                "%(count)s extra sessions added. Check the preview again, then confirm.",
                len(sessions),
            )
            % {"count": len(sessions)},
            messages.SUCCESS,
        )

    def _mark_down(self, request, data) -> Outage:
        # The task that moves the bookings is enqueued on commit, after the offices and
        # services are set and the history written (all inside outage_create).
        outage = outage_create(
            offices=list(data["offices"]),
            services=list(data["services"]),
            starts_at=data["starts_at"],
            expected_end=data["expected_end"],
            capacity_percent=data["capacity_percent"] or 0,
            reason=data["reason"],
            reason_hi=data["reason_hi"],
            acting_user=request.user,
        )
        self.message_user(
            request,
            gettext("Service marked down. Affected bookings are being moved; watch the progress."),
            messages.SUCCESS,
        )
        return outage

    # The outage page: progress, buttons, history.

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "POST":
            # Every field is read-only; the buttons post to their own URLs.
            return HttpResponseRedirect(request.path)
        outage = self.get_object(request, unquote(object_id))
        extra = {**NO_SAVE_BUTTONS, **(extra_context or {})}
        if outage is not None:
            extra.update(self._panel_context(request, outage))
        return super().change_view(request, object_id, form_url, extra)

    def _panel_context(self, request, outage) -> dict:
        can_act = self.has_change_permission(request, outage)
        actions = sorted(outage_history(outage), key=lambda e: e.action_time, reverse=True)
        return {
            "progress": outage_progress(outage),
            "told": outage_told(outage),
            "progress_url": _admin_url(self.opts, "progress", outage.pk),
            "can_act": can_act,
            "can_extend": can_act and outage.resolved_at is None,
            "can_resolve": can_act and outage.resolved_at is None,
            # Offered while the window is open; shown once the move is done (the page's script
            # reveals it when the progress reaches done). The service checks both again.
            "can_undo": can_act
            and outage.resolved_at is None
            and timezone.now() <= outage_undo_deadline(outage=outage),
            "undo_ready": outage_undo_available(outage=outage),
            "undo_deadline": outage_undo_deadline(outage=outage),
            "undo_minutes": settings.OUTAGE_UNDO_WINDOW_MINUTES,
            "extend_form": OutageExtendForm(),
            "outage_actions": actions,
            "other_offices": not can_act and clerk_office_ids(request) is not None,
        }

    def progress_view(self, request, object_id):
        """JSON polled every second by the outage page (scoped like the page)."""
        outage = self.get_object(request, unquote(object_id))
        if outage is None or not self.has_view_permission(request, outage):
            raise Http404(gettext("No such outage."))
        response = JsonResponse(outage_progress(outage))
        response["Cache-Control"] = "no-store"
        return response

    def _outage_for_action(self, request, object_id) -> Outage:
        return self.object_for_action(request, object_id, gettext("No such outage."))

    def history_view(self, request, object_id, extra_context=None):
        response = super().history_view(request, object_id, extra_context)
        return with_domain_history(self, request, response, outage_history)

    def extend_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        outage = self._outage_for_action(request, object_id)
        form = OutageExtendForm(request.POST)
        if not form.is_valid():
            for problems in form.errors.values():
                for problem in problems:
                    self.message_user(request, problem, messages.ERROR)
        else:
            hours = form.cleaned_data["hours"]
            try:
                outage = outage_extend(
                    outage=outage,
                    # An open-ended outage gets its end: back in `hours` from now.
                    expected_end=(outage.expected_end or timezone.now()) + timedelta(hours=hours),
                    acting_user=request.user,
                )
            except OutageInvalid as error:
                self.message_user(request, str(error.message), messages.ERROR)
            else:
                self.message_user(
                    request,
                    gettext("Outage extended to %(end)s; bookings now inside it are being moved.")
                    % {"end": _when(outage.expected_end)},
                    messages.SUCCESS,
                )
        return HttpResponseRedirect(_admin_url(self.opts, "change", outage.pk))

    def resolve_view(self, request, object_id):
        """GET (or a POST without `confirmed`, the old one-click form): the confirmation page,
        which changes nothing. POST with `confirmed=yes`: resolve."""
        if request.method not in ("GET", "POST"):
            return HttpResponseNotAllowed(["GET", "POST"])
        outage = self._outage_for_action(request, object_id)
        if outage.resolved_at is None and (
            request.method == "GET" or request.POST.get("confirmed") != "yes"
        ):
            context = {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": gettext("Resolve this outage now?"),
                "outage": outage,
                "held": outage.held_bookings.filter(status=Booking.Status.ON_HOLD).count(),
            }
            return TemplateResponse(request, "admin/slots/outage/resolve_confirm.html", context)
        if outage.resolved_at is not None:
            self.message_user(request, gettext("This outage is already resolved."), messages.INFO)
        else:
            outage_resolve(outage=outage, acting_user=request.user)
            self.message_user(
                request,
                gettext(
                    "Outage resolved: the rest of the window takes bookings again, and the "
                    "applicants it moved are told they may choose an earlier time."
                ),
                messages.SUCCESS,
            )
        return HttpResponseRedirect(_admin_url(self.opts, "change", outage.pk))

    def undo_view(self, request, object_id):
        """GET (or a POST without `confirmed`: the button without JavaScript's dialog): the
        confirmation page, which changes nothing. POST with `confirmed=yes`: undo."""
        if request.method not in ("GET", "POST"):
            return HttpResponseNotAllowed(["GET", "POST"])
        outage = self._outage_for_action(request, object_id)
        if request.method == "GET" or request.POST.get("confirmed") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": gettext("Undo this outage as a false alarm?"),
                "outage": outage,
            }
            return TemplateResponse(request, "admin/slots/outage/undo_confirm.html", context)
        try:
            result = outage_undo(outage=outage, acting_user=request.user)
        except (OutageUndoRefused, Busy) as error:
            self.message_user(request, str(error.message), messages.ERROR)
        else:
            self.message_user(
                request, _undo_summary(result.moved_back, result.stayed), messages.SUCCESS
            )
        return HttpResponseRedirect(_admin_url(self.opts, "change", outage.pk))


def _undo_summary(moved_back: int, stayed: int) -> str:
    return gettext(
        "Undone as a false alarm: %(back)s moved back to their original times, "
        "%(stayed)s keep their new times; applicants told: %(told)s."
    ) % {"back": moved_back, "stayed": stayed, "told": moved_back + stayed}


def _outage_event_message(outage: Outage, event: OutageEvent) -> str:
    """An outage's history row in words, in the reader's language."""
    if event.kind == OutageEvent.Kind.DECLARED:
        closure = event.details.get("closure")
        if closure:
            return gettext("Recorded for the closure of %(office)s on %(date)s: %(reason)s") % {
                "office": ", ".join(o.code for o in outage.offices.all()),
                "date": format_date(date.fromisoformat(closure)),
                "reason": outage.display_reason,
            }
        services = ", ".join(s.display_name for s in outage.services.all()) or gettext(
            "all services"
        )
        summary = gettext("Marked down: %(offices)s, %(services)s, %(start)s to %(end)s.") % {
            "offices": ", ".join(o.code for o in outage.offices.all()),
            "services": services,
            "start": _when(outage.starts_at),
            "end": _when(event.expected_end_after)
            if event.expected_end_after
            else gettext("until further notice"),
        }
        if outage.capacity_percent:
            summary += " " + gettext("Runs at %(percent)s per cent of its seats.") % {
                "percent": outage.capacity_percent
            }
        if event.details.get("proposal"):
            summary += " " + gettext("Proposed by monitoring (proposal #%(id)s).") % {
                "id": event.details["proposal"]
            }
        return summary
    if event.kind == OutageEvent.Kind.EXTENDED and not event.expected_end_after:
        return gettext("Made open-ended: until further notice.")
    if event.kind == OutageEvent.Kind.EXTENDED and not event.expected_end_before:
        return gettext("End given: expected back %(end)s; held bookings are being placed.") % {
            "end": _when(event.expected_end_after)
        }
    if event.kind == OutageEvent.Kind.EXTENDED:
        change = event.expected_end_after - event.expected_end_before
        hours = round(change.total_seconds() / 3600, 1)
        return gettext("Extended by %(hours)s h, expected back %(end)s.") % {
            "hours": int(hours) if hours == int(hours) else hours,
            "end": _when(event.expected_end_after),
        }
    if event.kind == OutageEvent.Kind.RESOLVED:
        return gettext("Resolved at %(at)s.") % {"at": _when(event.at)}
    if event.kind == OutageEvent.Kind.UNDONE:
        return _undo_summary(event.details.get("moved_back", 0), event.details.get("stayed", 0))
    return str(event.get_kind_display())


def booking_history(booking: Booking) -> list[HistoryEntry]:
    """The booking's history rows (who moved, checked in, cancelled it), for the admin."""
    rows = []
    for event in booking_events_with_undone(booking.events.select_related("actor_user")):
        moves = " → ".join(_when(t) for t in (event.from_starts_at, event.to_starts_at) if t)
        message = " ".join(part for part in (str(event.get_kind_display()), moves) if part)
        if event.display_reason:
            message += f" ({event.display_reason})"
        rows.append(
            HistoryEntry(
                action_time=event.at,
                user=event.actor_user or _NoUser(str(event.get_actor_display())),
                message=message,
            )
        )
    return rows


def outage_history(outage: Outage) -> list[HistoryEntry]:
    """The outage's history rows, shaped for the admin's pages (who, when, what)."""
    system = _NoUser(gettext("system"))
    return [
        HistoryEntry(
            action_time=event.at,
            user=event.user or system,
            message=_outage_event_message(outage, event),
        )
        for event in outage.history.select_related("user")
    ]


# --- Waiting list and offers (read-only: the services and the applicants change them) ---------


class _ReadOnlyAdmin(OfficeScopedAdminMixin, admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("applicant"), ordering="applicant__full_name")
    def applicant_name(self, obj):
        return obj.applicant.full_name


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(_ReadOnlyAdmin):
    """Each office's waiting list, in serving order (outage-displaced first, then by when they
    joined): the clerk sees who waits and who has been offered a seat."""

    list_display = [
        "applicant_name",
        "application_number",
        "office",
        "service",
        "date_from",
        "date_to",
        "state",
        "displaced_by_outage",
        "created_at",
    ]
    list_filter = [("office", OfficeListFilter), "service", "state", "displaced_by_outage"]
    search_fields = ["applicant__application_number", "applicant__mobile"]
    list_select_related = ["applicant", "office", "service"]
    ordering = ["office__code", "service__sort_order", "-displaced_by_outage", "created_at", "id"]
    fields = [
        "applicant",
        "office",
        "service",
        "date_from",
        "date_to",
        "state",
        "displaced_by_outage",
        "created_at",
        "updated_at",
    ]
    readonly_fields = fields

    @admin.display(description=_("application number"))
    def application_number(self, obj):
        return obj.applicant.application_number


class OfferStateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return Offer.State.choices

    def queryset(self, request, queryset):
        return queryset.filter(state=self.value()) if self.value() else queryset


@admin.register(Offer)
class OfferAdmin(_ReadOnlyAdmin):
    """Seats held for waiting-list offers (open ones first: each holds a seat until it
    expires)."""

    office_lookup = "slot__office"
    list_display = ["slot", "applicant_name", "state", "expires_at", "created_at", "booking"]
    list_filter = [OfferStateFilter, "slot__service"]
    list_select_related = ["slot__service", "applicant", "booking"]
    ordering = ["-created_at", "-id"]
    fields = [
        "entry",
        "slot",
        "applicant",
        "state",
        "expires_at",
        "created_at",
        "decided_at",
        "booking",
    ]
    readonly_fields = fields


@admin.register(BallotEntry)
class BallotEntryAdmin(_ReadOnlyAdmin):
    """The requests of each newly opened day's ballot, in the order the draw served them:
    who asked in the first minutes, and who was drawn, waits, or could not take part."""

    list_display = [
        "day",
        "office",
        "service",
        "position",
        "applicant_name",
        "asked_time",
        "state",
        "booking",
        "created_at",
    ]
    list_filter = [("office", OfficeListFilter), "service", "state", "day"]
    search_fields = ["applicant__application_number", "applicant__mobile"]
    list_select_related = ["applicant", "office", "service", "slot", "booking"]
    ordering = ["-day", "office__code", "service__sort_order", "position", "id"]
    fields = [
        "applicant",
        "office",
        "service",
        "day",
        "slot",
        "closes_at",
        "state",
        "position",
        "booking",
        "waitlist_entry",
        "why",
        "created_at",
        "drawn_at",
    ]
    readonly_fields = fields

    @admin.display(description=_("time asked for"), ordering="slot__starts_at")
    def asked_time(self, obj):
        return format_time(obj.slot.starts_at)
