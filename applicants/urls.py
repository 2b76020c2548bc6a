"""The applicant pages, included at the site root by rto_booking/urls.py."""

from datetime import date

from django.urls import path, register_converter

from applicants import views


class IsoDateConverter:
    """A day in the URL as 2026-12-14; anything else does not match (404)."""

    regex = r"\d{4}-\d{2}-\d{2}"

    def to_python(self, value: str) -> date:
        return date.fromisoformat(value)  # ValueError (e.g. 2026-02-30) means "no match"

    def to_url(self, value: date | str) -> str:
        return value.isoformat() if isinstance(value, date) else value


register_converter(IsoDateConverter, "isodate")

app_name = "applicants"

urlpatterns = [
    path("register/", views.register, name="register"),
    path("welcome/", views.welcome, name="welcome"),
    path("verify-mobile/", views.verify_mobile, name="verify_mobile"),
    path("signin/", views.signin, name="signin"),
    path("recover/", views.recover, name="recover"),
    path("signout/", views.signout, name="signout"),
    path("book/", views.book_offices, name="book_offices"),
    path("book/slot/<int:slot_id>/", views.book_confirm, name="book_confirm"),
    path("book/<str:office_code>/", views.book_services, name="book_services"),
    path("book/<str:office_code>/<slug:service_slug>/", views.book_days, name="book_days"),
    path(
        "book/<str:office_code>/<slug:service_slug>/waitlist/",
        views.waitlist_join_page,
        name="waitlist_join",
    ),
    path(
        "book/<str:office_code>/<slug:service_slug>/<isodate:day>/",
        views.book_times,
        name="book_times",
    ),
    path("my/bookings/", views.my_bookings, name="my_bookings"),
    path("my/details/", views.my_details, name="my_details"),
    path("my/bookings/<str:reference>/", views.booking_slip, name="booking_slip"),
    path(
        "my/bookings/<str:reference>/calendar.ics",
        views.booking_calendar,
        name="booking_calendar",
    ),
    path(
        "my/bookings/<str:reference>/reschedule/",
        views.reschedule_days,
        name="reschedule_days",
    ),
    path(
        "my/bookings/<str:reference>/reschedule/<isodate:day>/",
        views.reschedule_times,
        name="reschedule_times",
    ),
    path(
        "my/bookings/<str:reference>/reschedule/slot/<int:slot_id>/",
        views.reschedule_confirm,
        name="reschedule_confirm",
    ),
    path("my/bookings/<str:reference>/cancel/", views.cancel, name="cancel"),
    path("my/cancel/<str:token>/", views.one_tap_cancel, name="one_tap_cancel"),
    path("my/bookings/<str:reference>/come/", views.confirm_coming, name="confirm_coming"),
    # The reminder's short one-tap links (slots.links.reminder_link_url): no trailing slash,
    # every character counts in a Hindi SMS.
    path("yes/<str:token>", views.reminder_yes, name="reminder_yes"),
    path("no/<str:token>", views.reminder_no, name="reminder_no"),
    path("my/waitlist/<int:entry_id>/leave/", views.waitlist_leave_page, name="waitlist_leave"),
    path("my/offers/<str:token>/", views.offer_page, name="offer"),
]
