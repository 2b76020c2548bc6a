"""The notification outbox: one row per (event, channel), written in the event's transaction.

A row carries everything its message needs (`context`, `language`, `recipient`) from the moment
it is written, and is rendered and sent later by the dispatcher, so nothing depends on Redis or
the SMS gateway being up when the event happens, and a statewide reschedule writes its rows in
bulk without rendering 80,000 templates inside its transactions.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Notification(models.Model):
    class Channel(models.TextChoices):
        SMS = "sms", _("SMS")
        EMAIL = "email", _("E-mail")

    class Kind(models.TextChoices):
        BOOKING_CONFIRMED = "booking_confirmed", _("Booking confirmed")
        RESCHEDULED_OUTAGE = "rescheduled_outage", _("Moved because of an outage")
        RESCHEDULED = "rescheduled", _("Rescheduled")
        NEEDS_NEW_SLOT = "needs_new_slot", _("Needs a new slot")
        CANCELLED = "cancelled", _("Cancelled")
        REMINDER = "reminder", _("Reminder")
        SERVICE_RESTORED = "service_restored", _("Service restored")
        ON_HOLD = "on_hold", _("On hold: do not come")
        # "Confirm or release": the last call to an unconfirmed booking, and its release.
        LAST_CALL = "last_call", _("Last call to confirm")
        RELEASED = "released", _("Released: not confirmed")
        # Account messages (SMS only, no booking): a one-time code for the mobile, the
        # application number asked for by "forgot my number", "someone is guessing your number".
        MOBILE_CODE = "mobile_code", _("One-time code")
        APPLICATION_NUMBER = "application_number", _("Application number")
        SIGNIN_GUESSED = "signin_guessed", _("Sign-in being guessed")
        # A waiting-list offer (no booking yet): a seat held for the applicant until
        # `expires_at` (in its context), with the one-tap link to accept it.
        WAITLIST_OFFER = "waitlist_offer", _("Waiting-list offer")
        # A ballot of a newly opened day drawn without a seat for the applicant (no booking):
        # on that day's waiting list now, or told why not (slots.services.ballot_draw).
        BALLOT_LOST = "ballot_lost", _("Not drawn in the ballot")

    class Delivery(models.TextChoices):
        """What the gateway's delivery report said about a sent SMS (empty: no report yet)."""

        DELIVERED = "delivered", _("Delivered")
        UNDELIVERED = "undelivered", _("Undelivered")
        EXPIRED = "expired", _("Expired")

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed, will retry")
        DEAD = "dead", _("Dead")
        # Not sent: a newer message about the same booking (same channel) was written first.
        SUPERSEDED = "superseded", _("Superseded by a newer message")

    # The booking the message is about; empty for an account message (ACCOUNT_KINDS).
    booking = models.ForeignKey(
        "slots.Booking",
        on_delete=models.CASCADE,
        related_name="notifications",
        null=True,
        blank=True,
        verbose_name=_("booking"),
    )
    # Whom the message is for: always set on account messages, and on booking messages written
    # from this version on (older booking rows reach their applicant through the booking).
    applicant = models.ForeignKey(
        "applicants.Applicant",
        on_delete=models.CASCADE,
        related_name="notifications",
        null=True,
        blank=True,
        verbose_name=_("applicant"),
    )
    # What the message announces, e.g. "event:1234" or "reminder:ABC123:2026-12-01": with the
    # channel it is unique, so no event is ever announced twice on one channel.
    event_key = models.CharField(max_length=80)
    channel = models.CharField(_("channel"), max_length=5, choices=Channel.choices)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    language = models.CharField(
        _("language"),
        max_length=2,
        default="en",
        choices=[("en", _("English")), ("hi", _("Hindi"))],
    )
    recipient = models.CharField(pgettext_lazy("recipient", "to"), max_length=254)
    # What the templates need, in plain JSON (ISO datetimes): written cheaply in bulk with the
    # event; the text is rendered from it in `language` when the row is first sent.
    context = models.JSONField(default=dict, blank=True)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("text"), blank=True)
    body_html = models.TextField(_("e-mail as a web page"), blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    last_error = models.TextField(_("last error"), blank=True)
    provider_id = models.CharField(_("provider id"), max_length=120, blank=True)
    # The claim token of the dispatcher run sending this row right now (its session advisory
    # lock, rto_booking/locks.py DISPATCHER); empty when no run holds it. A token whose lock is
    # free means that run died: the sweep hands the row back at once.
    claimed_by = models.PositiveIntegerField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    # A database default: the hand-written outbox inserts (slots/hotpath.py) name no value.
    delivery = models.CharField(
        _("delivery"), max_length=12, choices=Delivery.choices, blank=True, db_default=""
    )
    delivery_reported_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        constraints = [
            models.UniqueConstraint(
                fields=["event_key", "channel"], name="notification_unique_event_channel"
            ),
            # A message is about a booking, or about an account (then its applicant is known).
            models.CheckConstraint(
                condition=Q(booking__isnull=False) | Q(applicant__isnull=False),
                name="notification_booking_or_applicant",
            ),
        ]
        indexes = [
            # The dispatcher's claim query: due rows still to send, oldest first.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["pending", "failed"]),
                name="notification_due",
            ),
            models.Index(fields=["booking", "created_at"], name="notification_booking"),
            # Account messages: claimed ahead of booking messages (someone waits at a screen),
            # and superseded per applicant and kind.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["pending", "failed"], booking__isnull=True),
                name="notification_account_due",
            ),
            models.Index(
                fields=["applicant", "kind", "channel"],
                condition=Q(booking__isnull=True),
                name="notification_account",
            ),
            # Delivery reports name the gateway's id.
            models.Index(
                fields=["provider_id"],
                condition=Q(channel="sms") & ~Q(provider_id=""),
                name="notification_sms_provider_id",
            ),
            # SMS_MAX_PER_HOUR: the SMS to one mobile sent in the last hour or in flight.
            models.Index(
                fields=["recipient", "sent_at"],
                condition=Q(channel="sms"),
                name="notification_sms_recipient",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.get_channel_display()}: {self.get_kind_display()} ({self.get_status_display()})"
        )


# Messages about an applicant's account, not about a booking: SMS only, no booking row.
ACCOUNT_KINDS = frozenset(
    {
        Notification.Kind.MOBILE_CODE,
        Notification.Kind.APPLICATION_NUMBER,
        Notification.Kind.SIGNIN_GUESSED,
    }
)
# Messages about a waiting-list offer: no booking row (there is none yet), SMS and e-mail; like
# an account message, claimed first and dropped unsent once its `expires_at` has passed.
OFFER_KINDS = frozenset({Notification.Kind.WAITLIST_OFFER})
# A ballot's result without a seat: no booking row, SMS and e-mail.
BALLOT_KINDS = frozenset({Notification.Kind.BALLOT_LOST})
# Messages about a booking: every other kind (in the order of Kind, for tests and listings).
BOOKING_KINDS = tuple(
    kind
    for kind in Notification.Kind.values
    if kind not in ACCOUNT_KINDS | OFFER_KINDS | BALLOT_KINDS
)
# Account kinds whose text holds a secret (the one-time code): once the row is final (sent or
# dead) the code is wiped from its context and text, and the admin never shows it.
SECRET_KINDS = frozenset({Notification.Kind.MOBILE_CODE})
