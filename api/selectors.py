"""Reads the API needs beyond slots.selectors. Keyword-only; no writes here."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from notifications.models import Notification
from slots.models import Booking, Office, Outage
from slots.selectors import booking_events_with_undone


def booking_queryset() -> QuerySet[Booking]:
    """Bookings with everything their representation shows: 3 queries for any number of rows."""
    return Booking.objects.select_related(
        "office", "service", "slot", "applicant"
    ).prefetch_related(
        Prefetch(
            "events",
            queryset=booking_events_with_undone().order_by("at", "id"),
            to_attr="history_rows",
        ),
        Prefetch(
            "notifications",
            queryset=Notification.objects.order_by("created_at", "id").only(
                "id", "booking_id", "channel", "kind", "status", "created_at", "sent_at", "delivery"
            ),
            to_attr="notification_rows",
        ),
    )


def booking_list_for_applicant(*, applicant) -> list[Booking]:
    return list(booking_queryset().filter(applicant=applicant).order_by("-created_at", "-id"))


def booking_list_for_staff(
    *, office_ids: set[int] | None, office_code: str | None = None, limit: int = 100
) -> list[Booking]:
    """The newest bookings of the offices a staff member may see (None: every office)."""
    bookings = booking_queryset().order_by("-created_at", "-id")
    if office_ids is not None:
        bookings = bookings.filter(office_id__in=office_ids)
    if office_code:
        bookings = bookings.filter(office__code=office_code)
    return list(bookings[:limit])


def booking_get_visible(*, reference: str, user, is_applicant: bool) -> Booking | None:
    """The booking if `user` may see it (own booking, or staff of its office), else None."""
    bookings = booking_queryset().filter(reference=reference)
    if is_applicant:
        bookings = bookings.filter(applicant=user)
    elif not user.is_superuser:
        bookings = bookings.filter(office__clerks=user)
    return bookings.first()


def booking_get(*, pk: int) -> Booking:
    return booking_queryset().get(pk=pk)


def outage_queryset() -> QuerySet[Outage]:
    return Outage.objects.prefetch_related(
        Prefetch("offices", queryset=Office.objects.order_by("code").only("id", "code")),
        "services",
    ).order_by("-starts_at", "-id")


OUTAGE_PAGE = 100


def outage_list(
    *,
    office_code: str | None = None,
    active: bool | None = None,
    before: int | None = None,
    limit: int = OUTAGE_PAGE,
) -> list[Outage]:
    """The `limit` most recently recorded outages (highest ids), or those recorded before id
    `before`, in the list's usual order (latest start first): the list is public, so it is
    bounded. The next page is `before=<the smallest id of this one>`."""
    outages = outage_queryset()
    if office_code:
        outages = outages.filter(offices__code=office_code)
    if active is not None:
        outages = outages.filter(resolved_at__isnull=active)
    if before is not None:
        outages = outages.filter(pk__lt=before)
    newest = outages.distinct().order_by("-pk").values("pk")[:limit]
    return list(outage_queryset().filter(pk__in=newest))


def outage_get(*, pk: int) -> Outage | None:
    return outage_queryset().filter(pk=pk).first()
