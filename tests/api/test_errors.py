import pytest

from slots import errors
from tests.api.conftest import assert_error

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    ["/api/", "/api/v2/offices/", "/api/v1/nothing/", "/api/v1/offices", "/api/v1/offices/x/"],
)
def test_unknown_api_urls_answer_404_in_the_error_shape(api, path):
    response = api.get(path)
    assert response["Content-Type"] == "application/json"
    assert_error(response, 404, "not_found")
    assert_error(api.post(path, {}), 404, "not_found")


def test_unknown_method_answers_405_in_the_error_shape(api, bhopal):
    assert_error(api.delete("/api/v1/offices/"), 405, "method_not_allowed")
    assert_error(api.put("/api/v1/offices/MP-04/", {}), 405, "method_not_allowed")


def test_malformed_json_answers_400_invalid(api):
    response = api.post("/api/v1/applicants/", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_form_data_answers_415(api):
    response = api.post("/api/v1/applicants/", {"full_name": "x"}, format="multipart")
    assert_error(response, 415, "unsupported_media_type")


def test_unexpected_error_answers_500_without_traceback(api, monkeypatch, caplog):
    def boom(**kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr("api.views.office_list_with_services", boom)
    response = api.get("/api/v1/offices/")
    body = assert_error(response, 500, "server_error")
    assert "secret" not in response.content.decode()
    assert set(body) == {"code", "detail"}
    assert any("Unexpected error" in r.message for r in caplog.records)


def test_domain_errors_keep_their_code_and_status(applicant_api, monkeypatch, bhopal_slot):
    def busy(**kwargs):
        raise errors.Busy()

    monkeypatch.setattr("api.views.booking_create", busy)
    assert_error(applicant_api.post("/api/v1/bookings/", {"slot": bhopal_slot.pk}), 503, "busy")


def test_django_validation_error_from_a_service_is_400(api, monkeypatch):
    from django.core.exceptions import ValidationError

    def refuse(**kwargs):
        raise ValidationError("Nope.")

    monkeypatch.setattr("api.views.applicant_register", refuse)
    response = api.post(
        "/api/v1/applicants/",
        {"full_name": "A B", "date_of_birth": "1990-01-01", "mobile": "9826012345"},
    )
    assert assert_error(response, 400, "invalid")["fields"] == {"non_field_errors": ["Nope."]}


def test_pages_outside_the_api_are_untouched(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "application/json" not in response["Content-Type"]


def test_lone_surrogates_and_nul_in_input_are_400_not_500(bhopal_api, api, bhopal):
    outage = (
        '{"offices": ["\\ud800", "MP-04\\u0000"], "expected_end": "2030-01-01T10:00",'
        ' "reason": "x"}'
    )
    response = bhopal_api.post("/api/v1/outages/", data=outage, content_type="application/json")
    assert_error(response, 400, "invalid")
    applicant = (
        '{"full_name": "A", "date_of_birth": "1990-01-01", "mobile": "9826012345",'
        ' "preferred_language": "\\udc00"}'
    )
    response = api.post("/api/v1/applicants/", data=applicant, content_type="application/json")
    assert "preferred_language" in assert_error(response, 400, "invalid")["fields"]


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "9999-12-25"])
def test_extreme_dates_are_400_not_500(api, bhopal_photo, day):
    url = "/api/v1/offices/MP-04/availability/"
    assert_error(api.get(url, {"service": "photo-biometrics", "from": day}), 400, "invalid")
    assert_error(api.get(url, {"service": "photo-biometrics", "to": day}), 400, "invalid")


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+05:30", "9999-12-31T23:59:59-12:00"])
def test_extreme_times_are_400_not_500(bhopal_api, bhopal, moment):
    body = {"offices": ["MP-04"], "expected_end": moment, "reason": "x"}
    assert_error(bhopal_api.post("/api/v1/outages/", body), 400, "invalid")


def test_odd_application_numbers_are_counted_safely(api, db):
    response = api.post(
        "/api/v1/auth/applicant/",
        data='{"application_number": "\\ud800 x", "date_of_birth": "1990-01-01"}',
        content_type="application/json",
    )
    assert response.status_code == 400


def test_huge_outage_id_is_404(api, bhopal_api, db):
    assert_error(api.get("/api/v1/outages/99999999999999999999999/"), 404, "not_found")
    url = "/api/v1/outages/99999999999999999999999/resolve/"
    assert_error(bhopal_api.post(url), 404, "not_found")
