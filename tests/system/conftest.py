"""Prints the figures the reliability tests recorded in this run (bench/results/reliability/)
at the end of the test output, so a CI log can be quoted."""

import json
import time

import pytest

from tests.system.helpers import FIGURES_DIR

_started = time.time()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not FIGURES_DIR.is_dir():
        return
    fresh = sorted(p for p in FIGURES_DIR.glob("*.json") if p.stat().st_mtime >= _started)
    if not fresh:
        return
    terminalreporter.section("reliability figures (bench/results/reliability/)")
    for path in fresh:
        record = json.loads(path.read_text())
        name, command = record.pop("name"), record.pop("command")
        record.pop("at", None)
        figures = ", ".join(f"{key}={value}" for key, value in record.items())
        terminalreporter.write_line(f"{name}: {figures}")
        terminalreporter.write_line(f"    reproduce: {command}")
