"""The load tests' client and their proof afterwards, shared by the `make run` stack's test
(tests/system/test_load_local.py) and the production topology's (tests/system/test_topology.py).

A `Client` is one thread sending a weighted mix of requests until a deadline; several clients may
share a user (its token). It remembers what the server acknowledged: each memory's id with the
content last written, each job's id with the payload sent. `lost_writes` and `unfinished_jobs`
then read everything back through the API.
"""

import random
import statistics
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from tests.system.helpers import http_full

# The status each kind of request must answer; anything else is an error.
EXPECTED = {"create": 201, "update": 200, "list": 200, "detail": 200, "job": 202, "job_status": 200}

# Weights of each kind of request (they need not add up to 1).
WRITE_HEAVY_MIX = (("create", 0.4), ("list", 0.3), ("detail", 0.2), ("job", 0.1))
MIXED = (
    ("create", 0.2),
    ("update", 0.1),
    ("list", 0.25),
    ("detail", 0.2),
    ("job", 0.1),
    ("job_status", 0.15),
)
# A kind that needs an earlier object falls back to the request that makes one.
NEEDS = {"update": "create", "detail": "create", "job_status": "job"}


class Client(threading.Thread):
    """One client: `mix` requests with `token` against `base` until `deadline` (monotonic).

    Any answer but the expected 2xx is an error (a socket error or timeout is status 0), and so
    is a detail read that does not show this client's last acknowledged write of the memory."""

    def __init__(
        self,
        base: str,
        token: str,
        deadline: float,
        seed: int,
        mix: Sequence[tuple[str, float]] = WRITE_HEAVY_MIX,
        timeout: float = 30,
    ) -> None:
        super().__init__(daemon=True)
        self.base, self.token, self.deadline, self.timeout = base, token, deadline, timeout
        self.seed = seed
        self.random = random.Random(seed)
        self.kinds = [kind for kind, _ in mix]
        self.weights = [weight for _, weight in mix]
        self.statuses: Counter[str] = Counter()
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.memories: dict[str, str] = {}  # id -> the content last acknowledged
        self.jobs: dict[str, dict[str, Any]] = {}  # id -> the payload sent
        self._memory_ids: list[str] = []
        self._job_ids: list[str] = []
        self.updates = 0
        self._sent = 0

    def call(self, kind: str, method: str, path: str, body: Any = None) -> Any:
        started = time.monotonic()
        try:
            status, _, answer = http_full(
                f"{self.base}{path}", method, body, self.token, self.timeout
            )
        except OSError as exc:  # refused, reset, timed out
            status, answer = 0, f"{type(exc).__name__}: {exc}"
        self.latencies.append(time.monotonic() - started)
        self.statuses[f"{kind} {status}"] += 1
        if status != EXPECTED[kind] or not isinstance(answer, dict) or "data" not in answer:
            self.errors.append(f"{method} {path}: {status} {str(answer)[:300]}")
            return None
        return answer["data"]

    def content(self) -> str:
        self._sent += 1
        return f"load {self.seed}-{self._sent} {self.random.random()}"

    def run(self) -> None:
        while time.monotonic() < self.deadline:
            kind = self.random.choices(self.kinds, self.weights)[0]
            if kind in NEEDS and not (self.jobs if kind == "job_status" else self.memories):
                kind = NEEDS[kind]
            if kind == "create":
                content = self.content()
                created = self.call(
                    kind, "POST", "/api/v1/memories", {"content": content, "tags": ["load"]}
                )
                if created:
                    self.memories[created["id"]] = content
                    self._memory_ids.append(created["id"])
            elif kind == "update":
                memory_id, content = self.random.choice(self._memory_ids), self.content()
                if self.call(kind, "PATCH", f"/api/v1/memories/{memory_id}", {"content": content}):
                    self.memories[memory_id] = content
                    self.updates += 1
            elif kind == "list":
                self.call(kind, "GET", "/api/v1/memories?per_page=50")
            elif kind == "detail":
                # Only this client writes its memories: a read must show its last write.
                memory_id = self.random.choice(self._memory_ids)
                read = self.call(kind, "GET", f"/api/v1/memories/{memory_id}")
                if read and read["content"] != self.memories[memory_id]:
                    self.errors.append(
                        f"GET /api/v1/memories/{memory_id}: stale {read['content']!r}, "
                        f"last written {self.memories[memory_id]!r}"
                    )
            elif kind == "job":
                payload = {"client": self.seed, "n": self._sent}
                self._sent += 1
                accepted = self.call(kind, "POST", "/api/v1/jobs/test", {"payload": payload})
                if accepted:
                    self.jobs[accepted["job_id"]] = payload
                    self._job_ids.append(accepted["job_id"])
            else:
                self.call(kind, "GET", f"/api/v1/jobs/{self.random.choice(self._job_ids)}")


def run_clients(clients: Sequence[Client], seconds: float) -> None:
    for client in clients:
        client.start()
    for client in clients:
        client.join(timeout=seconds + 120)
    stuck = [client.seed for client in clients if client.is_alive()]
    assert not stuck, f"clients {stuck} still running two minutes after the deadline"


def _pages(base: str, path: str, token: str) -> Iterable[dict[str, Any]]:
    """Every item of a paginated list, oldest first."""
    page = 1
    while True:
        status, _, body = http_full(f"{base}{path}&per_page=100&page={page}", token=token)
        assert status == 200, body
        yield from body["data"]
        if page >= body["meta"]["total_pages"]:
            return
        page += 1


def _by_token(clients: Sequence[Client]) -> dict[str, list[Client]]:
    groups: dict[str, list[Client]] = defaultdict(list)
    for client in clients:
        groups[client.token].append(client)
    return groups


def lost_writes(base: str, clients: Sequence[Client]) -> list[str]:
    """Each user's memories, read back through the list: exactly the acknowledged creates,
    each with the content of its last acknowledged write. Returns what differs."""
    lost = []
    for token, group in _by_token(clients).items():
        acknowledged = {
            mid: content for client in group for mid, content in client.memories.items()
        }
        stored = {
            item["id"]: item["content"]
            for item in _pages(base, "/api/v1/memories?ordering=created_at", token)
        }
        for memory_id, content in acknowledged.items():
            if memory_id not in stored:
                lost.append(f"{memory_id}: acknowledged, not listed")
            elif stored[memory_id] != content:
                lost.append(f"{memory_id}: {stored[memory_id]!r} instead of {content!r}")
        lost += [
            f"{memory_id}: listed, never acknowledged"
            for memory_id in stored.keys() - acknowledged.keys()
        ]
    return lost


def unfinished_jobs(base: str, clients: Sequence[Client]) -> list[str]:
    """The acknowledged test jobs not `completed` with their payload as result."""
    unfinished = []
    for token, group in _by_token(clients).items():
        done = {
            item["id"]: item["result"]
            for item in _pages(base, "/api/v1/jobs?name=test&status=completed", token)
        }
        for client in group:
            for job_id, payload in client.jobs.items():
                if job_id not in done:
                    unfinished.append(f"{job_id}: not completed")
                elif done[job_id] != payload:
                    unfinished.append(f"{job_id}: result {done[job_id]} instead of {payload}")
    return unfinished


def wait_for_jobs(base: str, clients: Sequence[Client], timeout: float) -> float:
    """Wait until every acknowledged job is `completed` with its payload as result, else fail
    naming the jobs that are not; returns the seconds waited."""
    started = time.monotonic()
    unfinished = unfinished_jobs(base, clients)
    while unfinished and time.monotonic() - started < timeout:
        time.sleep(1)
        unfinished = unfinished_jobs(base, clients)
    assert unfinished[:20] == [], (
        f"{len(unfinished)} of the acknowledged jobs not completed after {timeout:g} s"
    )
    return time.monotonic() - started


def summary(clients: Sequence[Client], seconds: float) -> dict[str, Any]:
    """The figures of a run: requests by kind, their rate and latencies, writes and jobs."""
    by_kind: Counter[str] = Counter()
    for client in clients:
        for key, count in client.statuses.items():
            by_kind[key.split()[0]] += count
    requests = sum(by_kind.values())
    latencies = sorted(value for client in clients for value in client.latencies)
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {
        "requests": requests,
        "requests_by_kind": dict(sorted(by_kind.items())),
        "requests_per_second": round(requests / seconds, 1),
        "latency_p50_ms": round(cuts[49] * 1000, 1),
        "latency_p99_ms": round(cuts[98] * 1000, 1),
        "errors": sum(len(client.errors) for client in clients),
        "creates_acknowledged": sum(len(client.memories) for client in clients),
        "updates_acknowledged": sum(client.updates for client in clients),
        "jobs_acknowledged": sum(len(client.jobs) for client in clients),
    }


def first_errors(clients: Sequence[Client], count: int = 20) -> list[str]:
    errors = [error for client in clients for error in client.errors]
    return errors[:count] + ([f"... and {len(errors) - count} more"] if len(errors) > count else [])
