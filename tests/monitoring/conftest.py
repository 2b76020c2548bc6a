"""Monitoring personas: Alertmanager holding the webhook token, payloads it sends, and the
staff API clients of tests/api."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as django_apps
from rest_framework.test import APIClient

from tests.api.conftest import (  # noqa: F401
    _clerks_in_the_clerk_group,
    api,
    applicant_api,
    assert_error,
    bhopal_api,
    indore_api,
    superuser_api,
)

TOKEN = "alert-token-for-tests-0123456789"
ALERTS = "/api/v1/alerts/"
PROPOSALS = "/api/v1/outage-proposals/"


def confirm_url(pk: int) -> str:
    return f"{PROPOSALS}{pk}/confirm/"


def alert(
    status="firing",
    *,
    office="MP-04",
    service=None,
    fingerprint="f0e1d2c3b4a59687",
    summary="Licence server not answering",
    starts_at="2026-12-01T09:00:00.123456789Z",
):
    labels = {"alertname": "RtoServiceDown", "office": office}
    if service is not None:
        labels["service"] = service
    item = {
        "status": status,
        "labels": labels,
        "annotations": {"summary": summary} if summary is not None else {},
        "startsAt": starts_at,
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus:9090/graph",
    }
    if fingerprint is not None:
        item["fingerprint"] = fingerprint
    return item


def webhook(*alerts, status=None):
    """Alertmanager's webhook body (version 4)."""
    return {
        "version": "4",
        "groupKey": '{}:{alertname="RtoServiceDown"}',
        "truncatedAlerts": 0,
        "status": status or alerts[0]["status"],
        "receiver": "rto-booking",
        "groupLabels": {"alertname": "RtoServiceDown"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": list(alerts),
    }


@pytest.fixture(autouse=True)
def alert_token(settings):
    settings.ALERT_WEBHOOK_TOKEN = TOKEN
    settings.OUTAGE_AUTO_DECLARE = False
    return TOKEN


@pytest.fixture
def alertmanager():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    return client


def send(client, *alerts):
    return client.post(ALERTS, webhook(*alerts), format="json")


def ensure_proposal_permissions():
    """The groups and their permissions come from migrations; a transactional test flushes
    them, so later tests make them again."""
    for name in (
        "slots.migrations.0002_clerk_groups",
        "monitoring.migrations.0002_clerk_permissions",
    ):
        migration = importlib.import_module(name)
        (migration.create_groups if hasattr(migration, "create_groups") else migration.grant)(
            django_apps, None
        )
