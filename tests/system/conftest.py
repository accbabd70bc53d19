import os

import pytest

from tests.system.browser import CHROMIUM


@pytest.fixture
def chromium() -> str:
    """Chromium's path; the test is skipped without it, except where the browser is required."""
    if CHROMIUM:
        return CHROMIUM
    if os.environ.get("TANKA_REQUIRE_BROWSER"):
        pytest.fail("Chromium is required here (TANKA_REQUIRE_BROWSER) but is not installed")
    pytest.skip("Chromium is not installed (apt-get install chromium); .ci/run installs it")
