import re

import pytest

pytestmark = pytest.mark.django_db

# Every path and method of /work/shared/docs/API.md (the contract).
CONTRACT = {
    ("/api/v1/auth/applicant/", "post"),
    ("/api/v1/offices/", "get"),
    ("/api/v1/offices/{code}/", "get"),
    ("/api/v1/offices/{code}/availability/", "get"),
    ("/api/v1/outages/", "get"),
    ("/api/v1/outages/{id}/", "get"),
    ("/api/v1/applicants/", "post"),
    ("/api/v1/bookings/", "get"),
    ("/api/v1/bookings/", "post"),
    ("/api/v1/bookings/{reference}/", "get"),
    ("/api/v1/bookings/{reference}/reschedule/", "post"),
    ("/api/v1/bookings/{reference}/cancel/", "post"),
    ("/api/v1/outages/", "post"),
    ("/api/v1/outages/{id}/", "patch"),
    ("/api/v1/outages/{id}/resolve/", "post"),
    ("/api/v1/bookings/{reference}/check-in/", "post"),
}


@pytest.fixture
def schema(api):
    response = api.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def test_every_contract_path_and_method_is_in_the_schema(schema):
    served = {
        (path, method)
        for path, item in schema["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }
    assert CONTRACT - served == set()


def test_error_responses_use_the_error_component(schema):
    error = schema["components"]["schemas"]["Error"]
    assert set(error["properties"]) == {"code", "detail", "fields"}
    assert error["required"] == ["code", "detail"]
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method not in {"get", "post", "patch"}:
                continue
            for code, response in operation["responses"].items():
                if int(code) >= 400:
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref == "#/components/schemas/Error", (path, method, code)
            assert "429" in operation["responses"], (path, method)


def test_path_and_query_parameters_are_typed(schema):
    def params(path, method):
        return {p["name"]: p for p in schema["paths"][path][method].get("parameters", [])}

    code = params("/api/v1/offices/{code}/", "get")["code"]["schema"]
    assert code["type"] == "string" and re.match(code["pattern"], "MP-04")
    reference = params("/api/v1/bookings/{reference}/", "get")["reference"]["schema"]
    assert reference["type"] == "string"
    assert params("/api/v1/outages/{id}/", "get")["id"]["schema"]["type"] == "integer"
    availability = params("/api/v1/offices/{code}/availability/", "get")
    assert availability["service"]["required"] is True
    assert availability["from"]["schema"]["format"] == "date"
    assert availability["to"]["schema"]["format"] == "date"
    outages = params("/api/v1/outages/", "get")
    assert outages["active"]["schema"]["type"] == "boolean"
    assert outages["office"]["schema"]["type"] == "string"


def test_booking_and_outage_components_match_the_contract(schema):
    components = schema["components"]["schemas"]
    assert set(components["BookingOut"]["properties"]) == {
        "reference",
        "status",
        "office",
        "service",
        "slot",
        "priority",
        "created_at",
        "confirmed_at",  # an addition: "confirm or release"
        "history",
        "notifications",
    }
    outage = components["OutageOut"]["properties"]
    assert {
        "id",
        "offices",
        "services",
        "starts_at",
        "expected_end",
        "resolved_at",
        "reason",
        "status",
        "reschedule",
    } <= set(outage)


def test_security_schemes_are_declared(schema):
    schemes = schema["components"]["securitySchemes"]
    assert schemes["applicantToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["applicantToken"]["description"],
    }
    assert schemes["staffToken"]["in"] == "header"


def test_docs_page_is_served_without_a_cdn(api):
    response = api.get("/api/docs/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui" in page
    assert "cdn.jsdelivr" not in page and "unpkg.com" not in page
