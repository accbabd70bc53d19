"""Swagger UI renders the API's operations in a real headless Chromium, from this server's
own assets only."""

import pytest

from tests.system.browser import render

pytestmark = pytest.mark.system


def test_swagger_ui_renders_operations(chromium, live_server, tmp_path):
    page = render(chromium, f"{live_server.url}/docs", tmp_path)
    assert "swagger-ui" in page.dom
    assert "opblock" in page.dom, "Swagger UI rendered no operations"
    assert "/api/v1/info" in page.dom
    assert "/health" in page.dom
