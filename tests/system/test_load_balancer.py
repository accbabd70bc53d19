"""docker/nginx.conf, run by a real nginx in front of two small stand-in api processes that
show what reaches them: HTTPS is what the load balancer says only when it is a trusted hop, a
client's X-Forwarded-Host never reaches the api, a 503 of the api reaches the client as the
api's JSON (and marks no api process as failed), and with no api process reachable nginx
answers the API's JSON 503 itself.

The configuration trusts 127.0.0.1 as the load balancer (as the production topology does);
a client on 127.0.0.2 is anyone else.
"""

import json
import os
import threading
import uuid
from collections.abc import Iterator
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from devstack.net import free_port, http_status, wait_until
from devstack.nginx import nginx_binary, write_nginx_config
from devstack.processes import Process
from tests.system.helpers import http_from

pytestmark = pytest.mark.system

TRUSTED, UNTRUSTED = "127.0.0.1", "127.0.0.2"
OUTAGE = {
    "success": False,
    "error": {"code": "SERVICE_UNAVAILABLE", "message": "The database is unavailable.",
              "details": [], "request_id": "from-the-api"},
}  # fmt: skip


class StandIn(BaseHTTPRequestHandler):
    """An api process: `/echo` answers with the forwarded headers it received, `/outage` with
    the api's 503 during a database outage."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path == "/outage":
            self._json(503, OUTAGE)
            return
        names = ("X-Forwarded-Proto", "X-Forwarded-Host", "Host", "X-Forwarded-For")
        received = {name: self.headers.get(name) for name in names}
        self._json(200, {"port": self.server.server_address[1], "received": received})

    def _json(self, status: int, body: Any) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: Any) -> None:
        pass


def start_nginx(run_dir: Path, upstreams: list[str]) -> tuple[Process, int]:
    nginx = nginx_binary()
    if nginx is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI must have nginx")
        pytest.skip("nginx is not installed (apt-get install nginx)")
    port = free_port()
    config = write_nginx_config(
        run_dir,
        listen=f"127.0.0.1:{port}",
        upstreams=upstreams,
        # The event stream's server plays no part here.
        events_upstream=f"127.0.0.1:{free_port()}",
        trusted_hops=[TRUSTED],
    )
    process = Process([nginx, "-p", str(run_dir), "-c", str(config)], {})
    if not wait_until(lambda: http_status(f"http://127.0.0.1:{port}/", 1) is not None, 15):
        process.stop()
        raise AssertionError(f"nginx did not start:\n{process.output}")
    return process, port


@pytest.fixture(scope="module")
def balancer(tmp_path_factory) -> Iterator[int]:
    """nginx (its port) in front of two stand-in api processes."""
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), StandIn) for _ in range(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    upstreams = [f"127.0.0.1:{server.server_address[1]}" for server in servers]
    nginx, port = start_nginx(tmp_path_factory.mktemp("nginx"), upstreams)
    try:
        yield port
    finally:
        nginx.stop()
        for server in servers:
            server.shutdown()
            server.server_close()


def get(
    port: int, path: str, headers: dict[str, str] | None = None, source: str = TRUSTED
) -> tuple[int, Message, bytes]:
    return http_from(source, f"http://127.0.0.1:{port}{path}", headers)


def received(port: int, headers: dict[str, str], source: str = TRUSTED) -> dict[str, Any]:
    status, _, body = get(port, "/echo", headers, source)
    assert status == 200, body
    return json.loads(body)["received"]


def test_https_reaches_the_api_only_when_the_trusted_hop_says_so(balancer):
    https = {"X-Forwarded-Proto": "https"}
    assert received(balancer, https)["X-Forwarded-Proto"] == "https"
    assert received(balancer, {})["X-Forwarded-Proto"] == "http"
    assert received(balancer, https, source=UNTRUSTED)["X-Forwarded-Proto"] == "http"
    assert received(balancer, {"X-Forwarded-Proto": "gopher"})["X-Forwarded-Proto"] == "http"


@pytest.mark.parametrize("source", [TRUSTED, UNTRUSTED])
def test_a_clients_forwarded_host_never_reaches_the_api(balancer, source):
    seen = received(balancer, {"X-Forwarded-Host": "evil.example"}, source=source)
    assert seen["X-Forwarded-Host"] is None
    assert seen["Host"] == "127.0.0.1"


def test_the_apis_503_reaches_the_client_and_fails_no_api_process(balancer):
    """A database outage makes every api process answer 503: nginx passes each on, and both
    processes still get the next requests."""
    for _ in range(6):
        status, headers, body = get(balancer, "/outage")
        assert status == 503, body[:200]
        assert headers["Content-Type"] == "application/json"
        assert json.loads(body) == OUTAGE

    ports = set()
    for _ in range(6):
        status, _, body = get(balancer, "/echo")
        assert status == 200, body[:200]
        ports.add(json.loads(body)["port"])
    assert len(ports) == 2


@pytest.fixture(scope="module")
def balancer_without_api(tmp_path_factory) -> Iterator[int]:
    """nginx (its port) in front of two ports where nothing listens."""
    nginx, port = start_nginx(
        tmp_path_factory.mktemp("nginx-alone"), [f"127.0.0.1:{free_port()}" for _ in range(2)]
    )
    try:
        yield port
    finally:
        nginx.stop()


def test_with_no_api_process_reachable_nginx_answers_the_apis_json_503(balancer_without_api):
    status, headers, body = get(balancer_without_api, "/api/v1/memories")

    assert status == 503
    assert headers["Content-Type"] == "application/json"
    answer = json.loads(body)
    assert answer["success"] is False
    assert answer["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert answer["error"]["request_id"] == headers["X-Request-ID"]
    assert uuid.UUID(headers["X-Request-ID"]).version == 4
    assert str(uuid.UUID(headers["X-Request-ID"])) == headers["X-Request-ID"]
    float(headers["X-Process-Time"])


@pytest.mark.parametrize(
    ("sent", "kept"), [("lb-trace.42:a", True), ("not a valid id!", False), ("x" * 129, False)]
)
def test_nginx_answers_with_the_callers_request_id_when_the_api_would_keep_it(
    balancer_without_api, sent, kept
):
    _, headers, body = get(balancer_without_api, "/health", {"X-Request-ID": sent})
    assert (headers["X-Request-ID"] == sent) is kept
    assert json.loads(body)["error"]["request_id"] == headers["X-Request-ID"]
