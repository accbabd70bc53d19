"""The API against its own OpenAPI schema: schemathesis generates requests for every
operation from the live `/api/v1/openapi.json` (examples, edge cases, random data and
stateful sequences that follow the links between operations), with a valid bearer token and
without one, against a real server with a real worker.

Every check is on: no 5xx, and every status code, content type, header and body is the one
the schema documents. Rate limits are switched off through their settings for the run.
Sizes: `FUZZ_MAX_EXAMPLES` cases per operation and phase (CI's default below); `make fuzz`
runs a larger one.
"""

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from devstack import ROOT
from devstack.postgres import throwaway_database
from devstack.processes import Process
from devstack.redis import RedisServer
from tests.system.helpers import api_and_worker, record_figures, unthrottled_env

pytestmark = [pytest.mark.system, pytest.mark.xdist_group("fuzz")]

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "8"))
# Without a token most operations can only answer 401: fewer cases, and no stateful phase
# (its sequences need objects only a token can create), find as much there.
ANONYMOUS_MAX_EXAMPLES = max(2, MAX_EXAMPLES // 3)
SEED = os.environ.get("FUZZ_SEED", "20261125")
CONFIG = Path(__file__).with_name("schemathesis.toml")
SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))


class LiveApi(NamedTuple):
    base: str
    token: str
    api: Process


@pytest.fixture(scope="module")
def live_api(tmp_path_factory) -> Iterator[LiveApi]:
    tmp = tmp_path_factory.mktemp("fuzz")
    redis_server = RedisServer(tmp / "redis").start()
    try:
        with throwaway_database(tmp) as database_url:
            # DEBUG off, as in production: Django's own 404/500 pages are then in play too.
            env = unthrottled_env(
                DATABASE_URL=database_url,
                REDIS_URL=redis_server.url,
                VAR_DIR=str(tmp / "var"),
                DEBUG="false",
            )
            # The worker lets jobs finish and embeddings get ready: cancel, retry and similar
            # are then reached in every state, not only their 404 and 409.
            with api_and_worker(env, "fuzz") as (base, token, api, _worker):
                yield LiveApi(base, token, api)
    finally:
        redis_server.stop()


def fuzz(
    live: LiveApi, tmp_path: Path, examples: int, *headers: str, phases: str = ""
) -> tuple[str, int]:
    """Run schemathesis; its output and the number of cases it generated."""
    command = [
        SCHEMATHESIS, "--config-file", str(CONFIG), "run", f"{live.base}/api/v1/openapi.json",
        "--max-examples", str(examples), "--seed", SEED,
        "--workers", "1", "--no-color", "--request-timeout", "30",
        "--report", "junit", "--report-dir", str(tmp_path),
        *[part for header in headers for part in ("-H", header)],
        *(["--phases", phases] if phases else []),
    ]  # fmt: skip
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=600, env=os.environ.copy()
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"schemathesis found problems:\n{output[-20000:]}"
    generated = re.search(r"(\d+) generated", output)
    assert generated, output[-5000:]
    return output, int(generated.group(1))


def server_errors(api: Process) -> list[str]:
    return [line for line in api.lines if "Traceback" in line or " 500 " in line]


def test_fuzzing_with_a_token_finds_no_server_error_and_no_schema_violation(live_api, tmp_path):
    output, cases = fuzz(
        live_api, tmp_path, MAX_EXAMPLES, f"Authorization: Bearer {live_api.token}"
    )

    assert not server_errors(live_api.api), live_api.api.output[-20000:]
    operations = re.search(r"Tested: (\d+)", output)
    record_figures(
        "fuzz-authenticated",
        f"FUZZ_MAX_EXAMPLES={MAX_EXAMPLES} FUZZ_SEED={SEED} "
        "pytest -n0 tests/system/test_fuzz_contract.py",
        cases=cases,
        operations=int(operations.group(1)) if operations else None,
        max_examples=MAX_EXAMPLES,
        server_errors=0,
        schema_violations=0,
    )
    assert cases >= 100


def test_fuzzing_without_a_token_finds_no_server_error_and_no_schema_violation(live_api, tmp_path):
    output, cases = fuzz(
        live_api, tmp_path, ANONYMOUS_MAX_EXAMPLES, phases="examples,coverage,fuzzing"
    )

    assert not server_errors(live_api.api), live_api.api.output[-20000:]
    record_figures(
        "fuzz-anonymous",
        f"FUZZ_MAX_EXAMPLES={MAX_EXAMPLES} FUZZ_SEED={SEED} "
        "pytest -n0 tests/system/test_fuzz_contract.py",
        cases=cases,
        max_examples=ANONYMOUS_MAX_EXAMPLES,
        server_errors=0,
        schema_violations=0,
    )
    assert cases >= 100
