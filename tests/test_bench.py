"""The benchmark harness's own plumbing (not the speed of anything): its wrk script, the
figures it derives, the side-by-side table read from the shared harness's files (no peer
needed), and the update of bench/RESULTS.md."""

import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from bench import peer, report
from bench.__main__ import main
from bench.stats import median_of, percentile
from bench.wrk import run_wrk


def test_results_page_update_keeps_the_hand_written_text(tmp_path):
    page = tmp_path / "RESULTS.md"
    page.write_text(
        f"# Results\n\nintro\n\n{report.BEGIN}\nold figures\n{report.END}\n\n## Notes\nkept\n"
    )

    report.update_results_md(f"{report.BEGIN}\nnew figures\n{report.END}", page)

    text = page.read_text()
    assert "new figures" in text and "old figures" not in text
    assert text.startswith("# Results\n\nintro\n") and text.endswith("## Notes\nkept\n")


def _api_run(rps: float, p50: float, p99: float) -> dict:
    endpoint = {"rps": rps, "latency_ms": {"p50": p50, "p99": p99}}
    return {"endpoints": dict.fromkeys(("health", "list", "detail", "create"), endpoint)}


def _jobs_run(accepted: float, e2e: float, p50_s: float, p95_s: float) -> dict:
    return {
        "enqueue": {"rate_jobs_s": accepted},
        "throughput_jobs_s": e2e,
        "latency_s": {"p50": p50_s, "p95": p95_s},
    }


def test_side_by_side_rows_are_medians_of_rounds_with_the_ratio_and_its_goal(tmp_path):
    """What compare.sh leaves in its folder, read without the peer or the shared harness."""
    files = {
        "api-peer-r1.json": _api_run(1000, 10, 50),
        "api-peer-r2.json": _api_run(3000, 30, 90),
        "api-peer-r3.json": _api_run(2000, 20, 60),
        "api-project-r1.json": _api_run(2500, 12, 40),
        "api-project-r2.json": _api_run(2400, 14, 45),
        "api-project-r3.json": _api_run(2600, 16, 50),
        "jobs-peer-r1.json": _jobs_run(200, 200, 0.024, 0.069),
        "jobs-project-r1.json": _jobs_run(260, 230, 0.012, 0.080),
    }
    for name, content in files.items():
        (tmp_path / name).write_text(json.dumps(content))

    rows = {(row["endpoint"], row["figure"]): row for row in peer.comparison(tmp_path)}

    health = rows["health", "req/s"]
    assert (health["peer"], health["tanka"], health["ratio"]) == (2000, 2500, 1.25)
    assert health["met"] is True and health["peer_rounds"] == [1000, 3000, 2000]
    assert rows["health", "p50 ms"]["ratio"] == 0.7 and rows["health", "p50 ms"]["met"] is True
    assert rows["health", "p99 ms"]["ratio"] == 0.75
    assert rows["jobs", "jobs end to end/s"]["met"] is False  # 1.15 < 1.2
    assert rows["jobs", "latency p50 ms"]["tanka"] == 12 and rows["jobs", "latency p50 ms"]["met"]
    assert rows["jobs", "latency p95 ms"]["met"] is False  # 80 ms against 69 ms
    table = "\n".join(report.comparison_table(list(rows.values())))
    assert "| GET /health/live | req/s | 2000 | 2500 | 1.25 | >= 1.2: met |" in table
    assert "<= 0.8: NOT met" in table


def test_without_the_shared_folder_the_peer_is_missing_and_says_where_it_looked(tmp_path):
    reason = peer.Peer(tmp_path / "nowhere").missing()
    assert reason is not None and str(tmp_path / "nowhere") in reason


def test_the_bench_refuses_to_start_without_wrk(monkeypatch, capsys):
    monkeypatch.setattr("bench.__main__.shutil.which", lambda name: None)
    assert main(["--no-peer"]) == 2
    assert "wrk is not installed" in capsys.readouterr().err


def test_percentiles_and_medians_of_rounds():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 95) == 95
    merged = median_of([{"rps": 1.0}, {"rps": 5.0}, {"rps": 3.0}])
    assert merged["rps"] == 3.0
    assert len(merged["rounds"]) == 3


class _Recorder(BaseHTTPRequestHandler):
    seen: list[str] = []

    def do_GET(self) -> None:
        self.seen.append(self.path)
        body = b'{"success": true}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_wrk_script_sends_the_token_and_a_new_cache_key_per_request():
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed (apt-get install wrk); only `make bench` needs it")
    headers = []

    class Handler(_Recorder):
        seen: list[str] = []

        def do_GET(self) -> None:
            headers.append(self.headers.get("Authorization"))
            super().do_GET()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        result = run_wrk(
            f"http://127.0.0.1:{server.server_port}/api/v1/memories?page=1",
            duration=1,
            connections=2,
            threads=1,
            env={"BENCH_TOKEN": "tok", "BENCH_VARY": "1991"},
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result["requests"] > 0 and result["errors"] == 0
    keys = [parse_qs(urlsplit(path).query)["created_after"][0] for path in Handler.seen]
    assert len(set(keys)) == len(keys)
    assert all(key.startswith("1991-01-01T") for key in keys)
    assert set(headers) == {"Bearer tok"}


def test_the_streams_section_judges_each_row_and_the_burst():
    lines = "\n".join(
        report.streams_lines(
            {
                "streams": 1000,
                "open_seconds": 12.5,
                "burst": {
                    "streams": 1000,
                    "received": 1000,
                    "all_received_seconds": 2.4,
                    "p50_seconds": 0.9,
                },  # fmt: skip
                "rows": {
                    "health_live": {
                        "without": 4000,
                        "beside": 3900,
                        "without_rounds": [4200, 4000, 3800],
                        "beside_rounds": [3900, 3950],
                    },
                    "memory_create": {"without": 200, "beside": 150},
                },
            }
        )
    )
    assert "reached 1,000 of 1,000 in 2.4 s" in lines and "within 2.0 s: NOT met" in lines
    assert "| 4000 (4200 / 4000 / 3800) | 3900 (3900 / 3950) | 0.97 | met |" in lines
    assert "| 200 | 150 | 0.75 | NOT met |" in lines
