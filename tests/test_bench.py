"""The benchmark harness's own plumbing (not the speed of anything): its wrk script, the
figures it derives, and the update of bench/RESULTS.md."""

import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from bench import __main__ as bench


def test_results_page_update_keeps_the_hand_written_text(tmp_path, monkeypatch):
    page = tmp_path / "RESULTS.md"
    page.write_text(
        f"# Results\n\nintro\n\n{bench.BEGIN}\nold figures\n{bench.END}\n\n## Notes\nkept\n"
    )
    monkeypatch.setattr(bench, "RESULTS_MD", page)

    bench.update_results_md(f"{bench.BEGIN}\nnew figures\n{bench.END}")

    text = page.read_text()
    assert "new figures" in text and "old figures" not in text
    assert text.startswith("# Results\n\nintro\n") and text.endswith("## Notes\nkept\n")


def test_a_target_is_met_only_when_every_figure_is():
    target = {"rps": 100, "p50_ms": 10, "p99_ms": 50}
    assert bench.verdict({"rps": 120, "p50_ms": 9, "p99_ms": 50}, target) == "met"
    assert bench.verdict({"rps": 120, "p50_ms": 11, "p99_ms": 20}, target) == "not met"
    assert bench.verdict({"rps": 99, "p50_ms": 1, "p99_ms": 1}, target) == "not met"


def test_percentiles_and_medians_of_rounds():
    values = [float(v) for v in range(1, 101)]
    assert bench.percentile(values, 50) == 50
    assert bench.percentile(values, 95) == 95
    merged = bench.median_of([{"rps": 1.0}, {"rps": 5.0}, {"rps": 3.0}])
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
        result = bench.run_wrk(
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
