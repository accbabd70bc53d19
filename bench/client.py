"""The benchmark's HTTP client: the setup calls, and the job client that pushes test jobs
through the API from several threads and reads back when each was created and completed."""

import http.client
import json
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from bench.stats import percentile


class BenchError(RuntimeError):
    """A setup call failed: the run cannot go on."""


def call(base: str, path: str, method: str = "GET", body: Any = None, token: str = "") -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{base}{path}", data=data, method=method)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        raise BenchError(f"{method} {path} answered {error.code}: {error.read()[:500]!r}") from None


def register(base: str, label: str) -> str:
    """A fresh user's access token."""
    email = f"bench-{label}-{time.time_ns()}@example.com"
    body = call(base, "/api/v1/auth/register", "POST",
                {"email": email, "password": "Bench-Passw0rd-2026"})  # fmt: skip
    return body["data"]["access_token"]


def seed_memories(base: str, token: str, count: int) -> list[str]:
    ids = []
    for index in range(count):
        body = call(base, "/api/v1/memories", "POST", {
            "content": f"Benchmark memory {index}: the quick brown fox jumps over the lazy dog.",
            "memory_type": ["note", "fact", "event", "task"][index % 4],
            "tags": ["bench", f"t{index % 10}"],
            "metadata": {"source": "bench", "index": index},
        }, token)  # fmt: skip
        ids.append(body["data"]["id"])
    return ids


class JobClient(threading.Thread):
    """One of the client threads: POSTs test jobs on one keep-alive connection."""

    def __init__(self, base: str, token: str, count: int) -> None:
        super().__init__(daemon=True)
        parts = urlsplit(base)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.token, self.count = token, count
        self.job_ids: list[str] = []
        self.errors = 0

    def run(self) -> None:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        for index in range(self.count):
            body = json.dumps({"payload": {"i": index}}).encode()
            try:
                connection.request("POST", "/api/v1/jobs/test", body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException):
                self.errors += 1
                connection.close()
                connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
                continue
            if response.status == 202:
                self.job_ids.append(json.loads(payload)["data"]["job_id"])
            else:
                self.errors += 1
        connection.close()


def parse_time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def jobs_round(base: str, total: int, clients: int) -> dict[str, Any]:
    """`total` test jobs from `clients` threads: how fast the API took them, and how long
    each took from its creation to its completion (the jobs' own timestamps)."""
    token = register(base, "jobs")
    threads = [JobClient(base, token, total // clients + (i < total % clients))
               for i in range(clients)]  # fmt: skip
    cpu_before, started = time.process_time(), time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    enqueue_seconds = time.monotonic() - started
    client_cpu = (time.process_time() - cpu_before) / enqueue_seconds
    accepted = sum(len(thread.job_ids) for thread in threads)
    errors = sum(thread.errors for thread in threads)

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        finished = sum(
            call(base, f"/api/v1/jobs?status={status}&per_page=1", token=token)["meta"]["total"]
            for status in ("completed", "failed")
        )
        if finished >= accepted:
            break
        time.sleep(0.5)
    rows: list[dict[str, Any]] = []
    page = 1
    while True:
        body = call(base, f"/api/v1/jobs?page={page}&per_page=100", token=token)
        rows += body["data"]
        if page >= body["meta"]["total_pages"]:
            break
        page += 1
    done = [row for row in rows if row["status"] == "completed"]
    latencies = [
        (parse_time(row["completed_at"]) - parse_time(row["created_at"])) * 1000 for row in done
    ]
    first = min(parse_time(row["created_at"]) for row in rows)
    last = max(parse_time(row["completed_at"]) for row in done)
    return {
        "jobs": total,
        "accepted": accepted,
        "completed": len(done),
        "errors": errors + (accepted - len(done)),
        "enqueue_rate": round(accepted / enqueue_seconds, 1),
        "throughput": round(len(done) / (last - first), 1),
        "p50_ms": round(percentile(latencies, 50), 2),
        "p95_ms": round(percentile(latencies, 95), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
        "load_generator_cpu": round(client_cpu, 3),
    }
