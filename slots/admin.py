from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from slots.models import (
    Booking,
    BookingEvent,
    Closure,
    ExtraSession,
    Offering,
    Office,
    Outage,
    Service,
    Slot,
    WeeklySession,
)


@admin.register(Office)
class OfficeAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "name_hi", "district", "state", "is_active"]
    list_filter = ["state", "is_active"]
    search_fields = ["code", "name", "name_hi", "district"]
    filter_horizontal = ["clerks"]


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "name_hi", "slot_minutes", "sort_order"]
    search_fields = ["slug", "name", "name_hi"]


class WeeklySessionInline(admin.TabularInline):
    model = WeeklySession
    extra = 0


class ExtraSessionInline(admin.TabularInline):
    model = ExtraSession
    extra = 0


@admin.register(Offering)
class OfferingAdmin(admin.ModelAdmin):
    list_display = ["office", "service", "is_active"]
    list_filter = ["service", "is_active", "office"]
    search_fields = ["office__code", "office__name", "service__slug"]
    list_select_related = ["office", "service"]
    inlines = [WeeklySessionInline, ExtraSessionInline]


@admin.register(Closure)
class ClosureAdmin(admin.ModelAdmin):
    list_display = ["date", "office", "service", "reason", "reason_hi"]
    list_filter = ["office", "service"]
    date_hierarchy = "date"
    search_fields = ["reason", "office__code"]
    list_select_related = ["office", "service"]


@admin.register(Slot)
class SlotAdmin(admin.ModelAdmin):
    list_display = [
        "starts_at",
        "ends_at",
        "office",
        "service",
        "capacity",
        "booked",
        "priority_reserve",
    ]
    list_filter = ["office", "service"]
    date_hierarchy = "starts_at"
    list_select_related = ["office", "service"]
    readonly_fields = ["booked"]
    raw_id_fields = ["offering"]


class BookingEventInline(admin.TabularInline):
    model = BookingEvent
    extra = 0
    can_delete = False
    fields = ["at", "kind", "actor", "from_starts_at", "to_starts_at", "outage", "reason"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Booking)
class BookingAdmin(admin.ModelAdmin):
    list_display = [
        "reference",
        "applicant",
        "office",
        "service",
        "slot_start",
        "status",
        "priority",
        "created_at",
    ]
    list_filter = ["status", "priority", "office", "service"]
    search_fields = ["reference", "applicant__application_number", "applicant__mobile"]
    list_select_related = ["applicant", "office", "service", "slot"]
    raw_id_fields = ["applicant", "slot"]
    readonly_fields = ["reference", "created_at", "updated_at", "self_reschedules"]
    inlines = [BookingEventInline]

    @admin.display(description=_("slot"), ordering="slot__starts_at")
    def slot_start(self, obj):
        return timezone.localtime(obj.slot.starts_at).strftime("%d %b %Y %H:%M")


@admin.register(Outage)
class OutageAdmin(admin.ModelAdmin):
    list_display = [
        "pk",
        "reason",
        "starts_at",
        "expected_end",
        "resolved_at",
        "state",
        "affected",
        "moved",
        "needs_new_slot",
        "notified",
    ]
    list_filter = ["state", "offices", "services"]
    search_fields = ["reason"]
    filter_horizontal = ["offices", "services"]
    readonly_fields = [
        "state",
        "affected",
        "moved",
        "needs_new_slot",
        "notified",
        "last_error",
        "run_started_at",
        "run_finished_at",
        "created_at",
    ]
