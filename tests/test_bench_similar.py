"""The similar benchmark's own plumbing (not the speed of anything): its seeding, its client
and its table."""

import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from apps.memories.embeddings import get_embedder
from apps.memories.models import EmbeddingStatus, Memory
from bench import similar
from devstack import ROOT


def test_the_module_runs_and_explains_itself():
    done = subprocess.run(
        [sys.executable, "-m", "bench.similar", "--help"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert "--database-url" in done.stdout and "--sizes" in done.stdout


@pytest.mark.django_db
def test_seeding_grows_one_users_memories_with_ready_embeddings():
    user, first = similar.seed_to(3)
    same_user, oldest = similar.seed_to(5)

    memories = Memory.objects.filter(owner=user)
    assert same_user == user and oldest == first
    assert memories.count() == 5
    assert set(memories.values_list("embedding_status", flat=True)) == {EmbeddingStatus.READY}
    assert {len(m.embedding) for m in memories} == {get_embedder().dimensions * 4}


class _Answers(BaseHTTPRequestHandler):
    statuses: list[int] = []
    tokens: list[str] = []

    def do_GET(self) -> None:
        self.tokens.append(self.headers.get("Authorization"))
        status = self.statuses.pop(0) if self.statuses else 200
        body = b"{}"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_the_client_counts_every_answer_that_is_not_a_200():
    _Answers.statuses = [200, 409, 200, 429]
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/api/v1/memories/x/similar?limit=5"
        result = similar.sequential(url, "tok", 6)
    finally:
        server.shutdown()
        server.server_close()

    assert (result["requests"], result["errors"]) == (6, 2)
    assert set(_Answers.tokens) == {"Bearer tok"}


def test_the_table_has_a_row_per_size():
    row = {"rps": 4.0, "p50_ms": 150.0, "p90_ms": 1.0, "p99_ms": 300.0, "errors": 0}
    results = {
        "command": "python -m bench.similar",
        "settings": {"database": "postgres", "max_candidates": None, "requests": 30,
                     "duration": 10, "connections": 4},
        "sizes": [{"memories": size, "sequential": row, "concurrent": row}
                  for size in (10_000, 100_000)],
    }  # fmt: skip

    table = similar.markdown(results)

    assert "| 10,000 | 150.0 | 300.0 | 4.0 |" in table
    assert "| 100,000 |" in table
