import os
from collections.abc import Iterator

import pytest

from tests.system.browser import CHROMIUM, Browser

# Worker processes of the task engine and their shared database (tests/system/workers.py).
from tests.system.workers import owner, start_worker, system_database, system_db  # noqa: F401


@pytest.fixture
def chromium() -> str:
    """Chromium's path; the test is skipped without it, except where the browser is required."""
    if CHROMIUM:
        return CHROMIUM
    if os.environ.get("TANKA_REQUIRE_BROWSER"):
        pytest.fail("Chromium is required here (TANKA_REQUIRE_BROWSER) but is not installed")
    pytest.skip("Chromium is not installed (apt-get install chromium); .ci/run installs it")


@pytest.fixture
def browser(chromium, tmp_path) -> Iterator[Browser]:
    """One page of a fresh headless Chromium, closed after the test."""
    opened = Browser(chromium, tmp_path / "profile")
    yield opened
    opened.close()
