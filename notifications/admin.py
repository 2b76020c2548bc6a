from django.contrib import admin

from notifications.models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "channel",
        "kind",
        "language",
        "recipient",
        "status",
        "attempts",
        "sent_at",
    ]
    list_filter = ["status", "channel", "kind", "language"]
    search_fields = ["recipient", "booking__reference", "event_key"]
    list_select_related = ["booking"]
    raw_id_fields = ["booking"]
    readonly_fields = [
        "event_key",
        "created_at",
        "sent_at",
        "provider_id",
        "last_error",
        "attempts",
    ]
