"""A lost database answers 503 (never 500); production settings pass `check --deploy`; CSP."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def broken(settings):
    settings.ROOT_URLCONF = "tests.ops.broken_urls"
    settings.DEBUG = False
    return Client(raise_request_exception=False)


def test_api_without_database_answers_503_database_unavailable(broken):
    response = broken.get("/api/v1/lost-db/")
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "database_unavailable" and body["detail"]
    assert response["Retry-After"] == "10"
    assert response["X-Request-ID"]


def test_page_without_database_answers_a_friendly_bilingual_503(broken):
    response = broken.get("/lost-db/")
    html = response.content.decode()
    assert response.status_code == 503
    assert "Please try again in a few minutes" in html and "कृपया" in html
    assert "127.0.0.1" not in html and "Traceback" not in html
    # Its <style> carries the nonce the CSP header names.
    policy = response["Content-Security-Policy"]
    nonce = policy.split("'nonce-")[1].split("'")[0]
    assert f'<style nonce="{nonce}">' in html


def test_other_api_errors_still_answer_500_server_error(broken):
    response = broken.get("/api/v1/broken/")
    assert response.status_code == 500
    assert response.json()["code"] == "server_error"
    assert "secret internal detail" not in response.content.decode()


def test_pages_carry_a_strict_content_security_policy(client):
    response = client.get("/")
    assert response.status_code == 200
    policy = dict(
        part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";")
    )
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"  # no nonce used on this page: no inline script
    assert policy["img-src"] == "'self' data:"  # the slip's QR code is a data: URI
    assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in response["Content-Security-Policy"]


@pytest.mark.parametrize("path", ["/admin/", "/admin/slots/outage/add/", "/api/docs/"])
def test_admin_and_api_docs_need_no_inline_code(admin_client, path):
    response = admin_client.get(path)
    assert response.status_code == 200
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    html = response.content.decode()
    assert "<style" not in html and " onclick=" not in html and " onsubmit=" not in html
    assert "<script>" not in html  # every script has a src (or a nonce)


def test_production_settings_pass_check_deploy(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_", "REDIS_", "LOG_", "CSP_", "SITE_URL"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="rto_booking.settings",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        DJANGO_ALLOWED_HOSTS="example.in",
        SITE_URL="https://example.in",
        METRICS_TOKEN=secrets.token_urlsafe(32),
        DJANGO_SECURE_SSL_REDIRECT="true",
        DATABASE_URL="postgres://rto:rto@127.0.0.1:5432/rto",  # not connected to by checks
        REDIS_URL="redis://127.0.0.1:6379/0",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_refuse_to_start_without_a_secret_key():
    env = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
    env["DJANGO_SETTINGS_MODULE"] = "rto_booking.settings"
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_the_500_page_may_use_its_inline_styles_but_not_scripts(settings):
    settings.ROOT_URLCONF = "tests.applicants.broken_urls"
    settings.DEBUG = False
    response = Client(raise_request_exception=False).get("/broken/")
    assert response.status_code == 500
    policy = response["Content-Security-Policy"]
    assert "style-src 'self' 'unsafe-inline'" in policy
    assert "script-src 'self'" in policy and "script-src 'self' 'unsafe-inline'" not in policy
