"""Swagger UI renders the API's operations in a real headless Chromium, from this server's
own assets only."""

import os
import shutil
import subprocess

import pytest

pytestmark = pytest.mark.system

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture
def chromium() -> str:
    if CHROMIUM:
        return CHROMIUM
    if os.environ.get("TANKA_REQUIRE_BROWSER"):
        pytest.fail("Chromium is required here (TANKA_REQUIRE_BROWSER) but is not installed")
    pytest.skip("Chromium is not installed (apt-get install chromium); .ci/run installs it")


def render(chromium: str, url: str, profile) -> str:
    result = subprocess.run(
        [chromium, *FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=15000",
         "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_swagger_ui_renders_operations(chromium, live_server, tmp_path):
    dom = render(chromium, f"{live_server.url}/docs", tmp_path / "profile")
    assert "swagger-ui" in dom
    assert "opblock" in dom, "Swagger UI rendered no operations"
    assert "/api/v1/info" in dom
    assert "/health" in dom
