import json

from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from notifications.models import Notification
from notifications.services import notifications_retry
from rto_booking.admin_scoping import OfficeScopedAdminMixin


class DueFilter(admin.SimpleListFilter):
    title = _("delivery")
    parameter_name = "delivery"

    def lookups(self, request, model_admin):
        return [
            ("waiting", _("Waiting to be sent (pending or retrying)")),
            ("stuck", _("Needs attention (dead)")),
            ("retried", _("Sent after retries")),
        ]

    def queryset(self, request, queryset):
        if self.value() == "waiting":
            return queryset.filter(
                status__in=[Notification.Status.PENDING, Notification.Status.FAILED]
            )
        if self.value() == "stuck":
            return queryset.filter(status=Notification.Status.DEAD)
        if self.value() == "retried":
            return queryset.filter(status=Notification.Status.SENT, attempts__gt=1)
        return queryset


@admin.register(Notification)
class NotificationAdmin(OfficeScopedAdminMixin, admin.ModelAdmin):
    # A clerk sees the messages about bookings of their offices only; account messages (no
    # booking: one-time codes, application numbers) only a superuser sees.
    office_lookup = "booking__office"

    list_display = [
        "created_at",
        "booking_reference",
        "applicant",
        "channel",
        "kind",
        "language",
        "recipient",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "short_error",
    ]
    list_filter = [DueFilter, "status", "delivery", "channel", "kind", "language", "created_at"]
    search_fields = [
        "recipient",
        "booking__reference",
        "applicant__application_number",
        "event_key",
        "provider_id",
    ]
    list_select_related = ["booking", "applicant"]
    raw_id_fields = ["booking", "applicant"]
    date_hierarchy = "created_at"
    actions = ["retry_selected"]
    readonly_fields = [
        "booking",
        "applicant",
        "message_key",
        "channel",
        "kind",
        "language",
        "recipient",
        "shown_context",
        "subject",
        "body",
        "body_html",
        "status",
        "attempts",
        "next_attempt_at",
        "created_at",
        "sent_at",
        "provider_id",
        "last_error",
    ]

    def has_add_permission(self, request):
        # Rows are written by the services with the events they announce, never by hand.
        return False

    exclude = ["context", "event_key"]  # shown as message_key, as what it is: a key

    @admin.display(description=_("booking"), ordering="booking__reference")
    def booking_reference(self, obj):
        # An account message (a one-time code, the application number) is about no booking.
        return obj.booking.reference if obj.booking_id else "—"

    @admin.display(description=_("message key"))
    def message_key(self, obj):
        # What the message announces ("event:1234"): a key, not words (lang="en" like the
        # context's JSON below; docs/PAGES.md, "No English on a Hindi page").
        return format_html('<code lang="en">{}</code>', obj.event_key)

    @admin.display(description=_("context"))
    def shown_context(self, obj):
        # A sealed one-time code is shown as such, never even in its sealed form.
        context = dict(obj.context or {})
        if "code_sealed" in context:
            context["code_sealed"] = "******"
        return format_html(
            '<pre lang="en">{}</pre>',
            json.dumps(context, ensure_ascii=False, indent=1, sort_keys=True),
        )

    @admin.display(description=_("last error"))
    def short_error(self, obj):
        return obj.last_error[:80]

    @admin.action(description=_("Retry selected dead or failed notifications now"))
    def retry_selected(self, request, queryset):
        count = notifications_retry(
            ids=list(queryset.values_list("pk", flat=True)), acting_user=request.user
        )
        self.message_user(
            request,
            ngettext(
                "%(count)d notification queued again.",
                "%(count)d notifications queued again.",
                count,
            )
            % {"count": count},
            messages.SUCCESS if count else messages.WARNING,
        )
