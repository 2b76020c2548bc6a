import pytest

from tests.api.conftest import assert_error

pytestmark = pytest.mark.django_db


def test_offices_list_has_services(api, bhopal_photo, indore, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        response = api.get("/api/v1/offices/")
    assert response.status_code == 200
    body = response.json()
    assert [o["code"] for o in body] == ["MP-04", "MP-09"]
    assert body[0] == {
        "code": "MP-04",
        "name": "RTO Bhopal",
        "name_hi": "आरटीओ भोपाल",
        "district": "Bhopal",
        "services": [
            {
                "code": "photo-biometrics",
                "name": "Photo and biometrics",
                "name_hi": "फोटो और बायोमेट्रिक",
                "slot_minutes": 30,
            }
        ],
    }


def test_office_detail(api, bhopal_photo):
    response = api.get("/api/v1/offices/MP-04/")
    assert response.status_code == 200
    assert response.json()["services"][0]["code"] == "photo-biometrics"


def test_unknown_office_answers_404_not_found(api, bhopal):
    assert_error(api.get("/api/v1/offices/MP-99/"), 404, "not_found")


def test_inactive_office_is_not_listed(api, bhopal, indore):
    indore.is_active = False
    indore.save()
    assert [o["code"] for o in api.get("/api/v1/offices/").json()] == ["MP-04"]
    assert_error(api.get("/api/v1/offices/MP-09/"), 404, "not_found")
