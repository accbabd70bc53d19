"""The side-by-side run: the seed's own design (FastAPI + Celery, `shared/peers/seed_fastapi`
beside the project) and ours, measured by the shared harness (`shared/bench/compare.sh`) in
alternation, in one run, on the same machine: on shared virtual machines absolute figures
move by up to 2x between runs, so only a ratio from one run means anything.

The shared folder sits beside the project's root (`TANKA_SHARED_DIR` to point elsewhere); a
clone without it is measured alone, and the report says so.
"""

import json
import os
import re
import shutil
import statistics
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack import ROOT

# Every row of the comparison: (endpoint, figure, how to read it, better when higher).
# The goal for a row is a ratio Tanka/peer of at least 1.2 when higher is better, at most
# 0.8 when lower is.
Getter = Callable[[dict[str, Any]], float | None]
API_FIGURES: list[tuple[str, Getter, bool]] = [
    ("req/s", lambda e: e.get("rps"), True),
    ("p50 ms", lambda e: e["latency_ms"]["p50"], False),
    ("p99 ms", lambda e: e["latency_ms"]["p99"], False),
]
JOB_FIGURES: list[tuple[str, Getter, bool]] = [
    ("jobs accepted/s", lambda j: j["enqueue"]["rate_jobs_s"], True),
    ("jobs end to end/s", lambda j: j.get("throughput_jobs_s"), True),
    ("latency p50 ms", lambda j: _ms((j.get("latency_s") or {}).get("p50")), False),
    ("latency p95 ms", lambda j: _ms((j.get("latency_s") or {}).get("p95")), False),
]
ENDPOINTS = {
    "health": "GET /health/live",
    "list": "GET /api/v1/memories (cached, 20 of 200)",
    "detail": "GET /api/v1/memories/{id}",
    "create": "POST /api/v1/memories (+ its embedding job)",
}
GOAL_HIGHER, GOAL_LOWER = 1.2, 0.8


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


@dataclass
class Peer:
    shared: Path

    @classmethod
    def beside_the_project(cls) -> "Peer":
        return cls(Path(os.environ.get("TANKA_SHARED_DIR") or ROOT.parent / "shared"))

    @property
    def compare_sh(self) -> Path:
        return self.shared / "bench" / "compare.sh"

    @property
    def peer_dir(self) -> Path:
        return self.shared / "peers" / "seed_fastapi"

    def missing(self) -> str | None:
        """Why the side-by-side run cannot happen here; None when it can."""
        if not self.compare_sh.exists():
            return f"the shared harness is not at {self.compare_sh}"
        if not (self.peer_dir / "start.sh").exists():
            return f"the peer is not at {self.peer_dir}"
        if shutil.which("wrk") is None:
            return "wrk is not installed (apt-get install wrk)"
        return None

    def prepare(self, state_dir: Path) -> None:
        """The peer's virtual environment, and its PostgreSQL role and database, once."""
        env = {**os.environ, "PEER_STATE_DIR": str(state_dir)}
        if not (state_dir / ".venv" / "bin" / "python").exists():
            subprocess.run([str(self.peer_dir / "setup.sh")], env=env, check=True)
        if not _peer_database_exists():
            subprocess.run([str(self.shared / "bench" / "setup_services.sh")], env=env, check=True)

    def compare(
        self,
        project_url: str,
        out_dir: Path,
        *,
        state_dir: Path,
        rounds: int,
        duration: int,
        connections: int,
        jobs: int,
        job_threads: int,
    ) -> None:
        """Run compare.sh against `project_url` (its output goes to the terminal)."""
        env = {
            **os.environ,
            "PEER_STATE_DIR": str(state_dir),
            "OUT_DIR": str(out_dir),
            "ROUNDS": str(rounds),
            "DURATION": str(duration),
            "CONNECTIONS": str(connections),
            "JOBS": str(jobs),
            "JOB_THREADS": str(job_threads),
        }
        subprocess.run(["bash", str(self.compare_sh), project_url], env=env, check=True)


def _peer_database_exists() -> bool:
    import psycopg

    try:
        psycopg.connect(
            "postgresql://peer_seed:peer_seed@127.0.0.1:5432/peer_seed", connect_timeout=3
        ).close()
    except psycopg.Error:
        return False
    return True


def _load(out_dir: Path, kind: str) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(out_dir.glob(f"{kind}-*-r*.json")):
        match = re.match(rf"{kind}-(.+)-r(\d+)\.json$", path.name)
        if match:
            found.setdefault(match.group(1), []).append(json.loads(path.read_text()))
    return found


def _median(values: list[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return round(statistics.median(present), 3) if present else None


def _values(docs: list[dict[str, Any]], pick: Callable[[Any], Any], get: Getter) -> list:
    out: list[float | None] = []
    for doc in docs:
        try:
            out.append(get(pick(doc)))
        except (KeyError, TypeError):
            out.append(None)
    return out


def comparison(out_dir: Path, peer: str = "peer", tanka: str = "project") -> list[dict[str, Any]]:
    """The rows of one compare.sh run: each figure's median over the rounds for both targets,
    the ratio Tanka/peer, and whether it meets the goal."""
    api, jobs = _load(out_dir, "api"), _load(out_dir, "jobs")
    sections: list[tuple[str, str, dict[str, list], list, Callable[[Any], Any]]] = [
        (name, label, api, API_FIGURES, lambda doc, name=name: doc["endpoints"][name])
        for name, label in ENDPOINTS.items()
    ]
    sections.append(("jobs", "500 test jobs from 16 threads", jobs, JOB_FIGURES, lambda d: d))
    rows = []
    for name, label, source, figures, pick in sections:
        for figure, get, higher in figures:
            peer_rounds = _values(source.get(peer, []), pick, get)
            tanka_rounds = _values(source.get(tanka, []), pick, get)
            ours, theirs = _median(tanka_rounds), _median(peer_rounds)
            ratio = round(ours / theirs, 2) if ours is not None and theirs else None
            met = None
            if ratio is not None:
                met = ratio >= GOAL_HIGHER if higher else ratio <= GOAL_LOWER
            rows.append({
                "endpoint": name, "label": label, "figure": figure, "higher_is_better": higher,
                "peer": theirs, "tanka": ours, "ratio": ratio, "met": met,
                "peer_rounds": peer_rounds, "tanka_rounds": tanka_rounds,
            })  # fmt: skip
    return rows
