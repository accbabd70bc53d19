"""Swagger UI renders the API's operations in a real headless Chromium, from this server's
own assets only."""

import pytest

pytestmark = pytest.mark.system


def test_swagger_ui_renders_operations(browser, live_server):
    browser.open(f"{live_server.url}/docs")
    browser.wait_for("!!document.querySelector('.opblock')", timeout=60)
    operations = browser.text("#swagger-ui")
    assert "/api/v1/info" in operations
    assert "/health" in operations
