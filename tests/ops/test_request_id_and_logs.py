"""Request ids: honoured or made, returned, on every log line, and carried into tasks."""

from __future__ import annotations

import json
import logging

import pytest

from rto_booking.celery import REQUEST_ID_TASK_HEADER, _publish_request_id
from rto_booking.logging import RequestContextFilter, logging_config, request_id_var

pytestmark = pytest.mark.django_db


def test_a_request_id_is_made_and_returned(client):
    first = client.get("/")["X-Request-ID"]
    second = client.get("/")["X-Request-ID"]
    assert len(first) == 32 and first != second


def test_the_callers_request_id_is_honoured(client):
    response = client.get("/", HTTP_X_REQUEST_ID="lb-7f3a9c21-0001")
    assert response["X-Request-ID"] == "lb-7f3a9c21-0001"


@pytest.mark.parametrize("bad", ["x" * 200, "two words", "evil\nlog line", ""])
def test_a_request_id_that_is_not_an_id_is_replaced(client, bad):
    response = client.get("/", HTTP_X_REQUEST_ID=bad)
    assert response["X-Request-ID"] != bad and len(response["X-Request-ID"]) == 32


def _json_line(record: logging.LogRecord) -> dict:
    config = logging_config(log_format="json", level="INFO")
    spec = dict(config["formatters"]["json"])
    factory = spec.pop("()")
    module, _, name = factory.rpartition(".")
    formatter = getattr(__import__(module, fromlist=[name]), name)(spec.pop("format"), **spec)
    RequestContextFilter().filter(record)
    return json.loads(formatter.format(record))


def test_json_log_lines_carry_the_request_id():
    token = request_id_var.set("req-123")
    try:
        record = logging.LogRecord("slots", logging.INFO, __file__, 1, "booked %s", ("X",), None)
        line = _json_line(record)
    finally:
        request_id_var.reset(token)
    assert line["message"] == "booked X"
    assert line["request_id"] == "req-123"
    assert line["level"] == "INFO" and line["logger"] == "slots" and "time" in line


def test_tasks_published_during_a_request_carry_its_id_in_their_headers():
    headers = {}
    token = request_id_var.set("req-456")
    try:
        _publish_request_id(headers=headers)
    finally:
        request_id_var.reset(token)
    assert headers == {REQUEST_ID_TASK_HEADER: "req-456"}
    outside = {}
    _publish_request_id(headers=outside)  # no request: nothing added
    assert outside == {}


def test_the_request_log_line_names_route_status_and_id(client, caplog):
    with caplog.at_level(logging.INFO, logger="rto.request"):
        client.get("/", HTTP_X_REQUEST_ID="trace-1")
    (record,) = [r for r in caplog.records if r.name == "rto.request"]
    assert (record.method, record.path, record.status, record.route) == ("GET", "/", 200, "home")
    assert record.request_id == "trace-1"
