"""What a booking POST asks of PostgreSQL: the three statements docs/PERFORMANCE.md counts
(the applicant for the token, the slot with its checks, the one-statement booking)."""

import pytest

pytestmark = pytest.mark.django_db


def test_a_booking_post_is_three_statements(
    applicant_api, bhopal_slot, django_assert_max_num_queries
):
    with django_assert_max_num_queries(5) as captured:
        response = applicant_api.post("/api/v1/bookings/", {"slot": bhopal_slot.pk}, format="json")
    assert response.status_code == 201, response.content
    # The test's own transaction makes the booking's a savepoint; in a request it is none.
    statements = [
        q["sql"].split(None, 1)[0] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]
    ]
    assert statements == ["SELECT", "SELECT", "WITH"]
