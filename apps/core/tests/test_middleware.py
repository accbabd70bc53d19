"""Request ids, timing, the access log and CORS (docs/api.md, "Headers")."""

import json
import logging
import re
import subprocess
import sys
import uuid

import pytest

from devstack import ROOT
from devstack.processes import clean_env

pytestmark = pytest.mark.urls("apps.core.tests.urls")


@pytest.mark.parametrize("value", ["abc-123", "req.1:2_3", "x" * 128])
def test_a_valid_request_id_is_echoed(api_client, value):
    response = api_client.get("/api/v1/info", HTTP_X_REQUEST_ID=value)
    assert response["X-Request-ID"] == value


@pytest.mark.parametrize("value", ["", "x" * 129, "has space", "semi;colon", "<script>"])
def test_an_unsafe_request_id_is_replaced_by_a_uuid4(api_client, value):
    response = api_client.get("/api/v1/info", HTTP_X_REQUEST_ID=value)
    assert uuid.UUID(response["X-Request-ID"]).version == 4


def test_each_request_without_an_id_gets_its_own(api_client):
    first = api_client.get("/health/live")["X-Request-ID"]
    second = api_client.get("/health/live")["X-Request-ID"]
    assert first != second


def test_error_carries_the_callers_request_id(api_client):
    response = api_client.get("/api/v1/nowhere", HTTP_X_REQUEST_ID="trace-42")
    assert response.json()["error"]["request_id"] == "trace-42"


@pytest.mark.parametrize("path", ["/health/live", "/api/v1/info", "/api/v1/nowhere", "/docs"])
def test_process_time_is_a_plain_decimal_on_every_response(api_client, path):
    value = api_client.get(path)["X-Process-Time"]
    assert re.fullmatch(r"\d+\.\d+", value), value
    assert float(value) >= 0


def test_one_access_log_line_per_request_with_its_context(api_client, caplog):
    with caplog.at_level(logging.INFO, logger="tanka.access"):
        api_client.get("/api/v1/info", HTTP_X_REQUEST_ID="log-me-1")
    lines = [r for r in caplog.records if r.name == "tanka.access"]
    assert len(lines) == 1
    record = lines[0]
    assert (record.method, record.path, record.status) == ("GET", "/api/v1/info", 200)
    assert record.request_id == "log-me-1"
    assert record.user_id == "-"
    assert record.duration_ms >= 0


@pytest.mark.parametrize("log_format", ["json", "text"])
def test_log_format_setting_shapes_every_line(log_format):
    """LOG_FORMAT=json gives one JSON object per line with the request context; text gives
    a readable line with the request id in brackets."""
    script = (
        "import django, logging; django.setup();"
        "from apps.core.logging import request_id_var; request_id_var.set('fmt-42');"
        "logging.getLogger('tanka.access').warning('hello', extra={'status': 200})"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=clean_env(LOG_FORMAT=log_format, DJANGO_SETTINGS_MODULE="tanka.settings"),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    line = result.stderr.strip().splitlines()[-1]
    if log_format == "json":
        record = json.loads(line)
        assert record["request_id"] == "fmt-42"
        assert record["message"] == "hello"
        assert record["status"] == 200
        assert record["level"] == "WARNING"
    else:
        assert "[fmt-42] hello" in line and "WARNING" in line


def test_cors_allows_a_configured_origin_and_exposes_our_headers(api_client):
    response = api_client.get("/api/v1/info", HTTP_ORIGIN="http://localhost:3000")
    assert response["Access-Control-Allow-Origin"] == "http://localhost:3000"
    exposed = response["Access-Control-Expose-Headers"].lower()
    for header in ("x-request-id", "x-process-time", "x-ratelimit-limit", "retry-after"):
        assert header in exposed


def test_cors_ignores_other_origins(api_client):
    response = api_client.get("/api/v1/info", HTTP_ORIGIN="https://evil.example")
    assert "Access-Control-Allow-Origin" not in response


def test_cors_origins_come_from_settings(api_client, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.tanka.example"]
    response = api_client.get("/api/v1/info", HTTP_ORIGIN="https://app.tanka.example")
    assert response["Access-Control-Allow-Origin"] == "https://app.tanka.example"


def test_preflight_answers_without_auth_and_allows_request_id(api_client):
    response = api_client.options(
        "/api/v1/test/private",
        HTTP_ORIGIN="http://localhost:3000",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type, x-request-id",
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert "x-request-id" in response["Access-Control-Allow-Headers"].lower()
