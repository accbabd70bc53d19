"""The live event stream (docs/events.md) on a real ASGI server, the one `make run` starts,
with writes made through the API and by other processes.

Deadlines are functional ("the event arrives within N s"), generous for a busy machine; the
latencies measured on the way are recorded in bench/results/reliability/events.json.
"""

import hashlib
import http.server
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import pytest
import redis

from devstack import MANAGE, ROOT
from devstack.net import free_port
from devstack.postgres import throwaway_database
from devstack.processes import Process
from devstack.redis import RedisServer
from devstack.topology import events_command
from tests.system.browser import FLAGS
from tests.system.helpers import (
    answers,
    http_json,
    issue_token,
    migrate,
    record_figures,
    unthrottled_env,
    wait_for,
)
from tests.system.sse import Event, EventStream

pytestmark = [pytest.mark.system, pytest.mark.xdist_group("events")]

# How long a test waits for an event that should come within 1 s of its commit.
DEADLINE = 10.0
PING_SECONDS = 1.0


class Stack(NamedTuple):
    base: str
    env: dict[str, str]
    redis: redis.Redis
    page_port: int
    server: Process


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("events")
    redis_server = RedisServer(tmp / "redis").start()
    page_port = free_port()
    try:
        with throwaway_database(tmp) as database_url:
            env = unthrottled_env(
                DATABASE_URL=database_url,
                REDIS_URL=redis_server.url,
                VAR_DIR=str(tmp / "var"),
                EVENTS_PING_SECONDS=str(PING_SECONDS),
                ALLOWED_ORIGINS=f"http://127.0.0.1:{page_port}",
                # The api's setting shares the environment (docker/tanka.env); granian would
                # refuse it on ASGI if the events server took it from there.
                GRANIAN_BLOCKING_THREADS="4",
            )
            migrate(env)
            port = free_port()
            server = Process(events_command(port), env)
            base = f"http://127.0.0.1:{port}"
            try:
                wait_for(lambda: answers(f"{base}/health/live"), 90, f"the ASGI server on {base}")
                yield Stack(base, env, redis.Redis.from_url(redis_server.url), page_port, server)
            finally:
                server.stop()
    finally:
        redis_server.stop()


def token_for(stack: Stack, name: str) -> str:
    return issue_token(stack.env, f"{name}@example.com")


def open_stream(stack: Stack, token: str | None = None, **headers: str) -> EventStream:
    if token:
        headers["Authorization"] = f"Bearer {token}"
    stream = EventStream(f"{stack.base}/api/v1/events", headers)
    assert stream.status == 200, getattr(stream, "body", None)
    assert stream.content_type == "text/event-stream"
    return stream


def create_memory(stack: Stack, token: str, content: str) -> str:
    status, body = http_json(f"{stack.base}/api/v1/memories", "POST", {"content": content}, token)
    assert status == 201, body
    return body["data"]["id"]


def tag_memory(stack: Stack, token: str, memory_id: str, tag: str) -> None:
    status, body = http_json(
        f"{stack.base}/api/v1/memories/{memory_id}", "PATCH", {"tags": [tag]}, token
    )
    assert status == 200, body


def event_for(stream: EventStream, name: str, object_id: str) -> Event:
    """The next `name` event about `object_id` (other events of the user may come first)."""
    while True:
        event = stream.next_event(DEADLINE)
        if event.event == name and event.json["id"] == object_id:
            return event


def django_shell(stack: Stack, code: str) -> str:
    command = [*MANAGE, "shell", "--no-imports", "-c", code]
    done = subprocess.run(command, env=stack.env, cwd=ROOT, check=True, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    return done.stdout.strip()


def test_an_event_reaches_an_open_stream_after_its_commit_and_a_rolled_back_write_sends_none(
    stack,
):
    token = token_for(stack, "commit")
    stream = open_stream(stack, token)
    try:
        # Another process rolls a write back, then commits one: only the second is announced.
        kept = django_shell(
            stack,
            "from django.db import transaction\n"
            "from apps.memories.services import memory_create\n"
            "from apps.users.models import User\n"
            "owner = User.objects.get(email='commit@example.com')\n"
            "try:\n"
            "    with transaction.atomic():\n"
            "        memory_create(owner=owner, content='rolled back')\n"
            "        raise RuntimeError\n"
            "except RuntimeError:\n"
            "    pass\n"
            "print(memory_create(owner=owner, content='kept').pk)\n",
        )
        first = stream.next_event(DEADLINE)
        assert (first.event, first.json["id"]) == ("memory.created", kept)

        # Request-to-event time bounds commit-to-event time: the answer follows the commit.
        latencies = []
        for index in range(3):
            started = time.monotonic()
            memory_id = create_memory(stack, token, f"through the API {index}")
            event = event_for(stream, "memory.created", memory_id)
            latencies.append(time.monotonic() - started)
            assert set(event.json) == {"event", "id", "at"}
            assert event.id and event.id.count("-") == 1

        # Quiet: the next thing on the stream is a ping, and nothing of the rolled-back write.
        item = stream.next(DEADLINE)
        while isinstance(item, Event) and item.event == "job.updated":
            item = stream.next(DEADLINE)
        assert item == ": ping"
    finally:
        stream.close()
    record_figures(
        "events",
        "pytest -n0 tests/system/test_events.py",
        request_to_event_seconds_max=round(max(latencies), 4),
        request_to_event_seconds_each=[round(value, 4) for value in latencies],
    )


def until_quiet(stream: EventStream, wanted: str) -> list[Event]:
    """Every event until the one about `wanted` has come and a ping follows."""
    events: list[Event] = []
    while True:
        item = stream.next(DEADLINE)
        assert item is not None, "the stream ended"
        if isinstance(item, Event):
            events.append(item)
        elif any(event.json.get("id") == wanted for event in events):
            return events


def test_two_users_never_see_each_others_events(stack):
    tokens = {name: token_for(stack, name) for name in ("ann", "bob")}
    streams = {name: open_stream(stack, token) for name, token in tokens.items()}
    try:
        own = {name: create_memory(stack, token, f"{name}'s") for name, token in tokens.items()}
        seen = {
            name: {event.json["id"] for event in until_quiet(stream, own[name])}
            for name, stream in streams.items()
        }
    finally:
        for stream in streams.values():
            stream.close()
    assert own["ann"] in seen["ann"] and own["bob"] in seen["bob"]
    # Nothing of the other: neither the memory nor its embedding job.
    assert not seen["ann"] & seen["bob"]


def test_a_reconnect_with_last_event_id_gets_exactly_what_it_missed_in_order(stack):
    token = token_for(stack, "resume")
    memory_id = create_memory(stack, token, "resumed")
    stream = open_stream(stack, token)
    tag_memory(stack, token, memory_id, "seen")
    last_seen = event_for(stream, "memory.updated", memory_id)
    stream.close()

    for tag in ("one", "two", "three"):
        tag_memory(stack, token, memory_id, tag)

    again = open_stream(stack, token, **{"Last-Event-ID": last_seen.id})
    try:
        missed = [again.next_event(DEADLINE) for _ in range(3)]
        assert [(e.event, e.json["id"]) for e in missed] == [("memory.updated", memory_id)] * 3
        ids = [last_seen.id, *(e.id for e in missed)]
        assert ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-"))))
        assert len(set(ids)) == 4
        # Then nothing more (no duplicate), until a live event comes, which does.
        assert again.next(DEADLINE) == ": ping"
        tag_memory(stack, token, memory_id, "live")
        live = again.next_event(DEADLINE)
        assert (live.event, live.json["id"]) == ("memory.updated", memory_id)
    finally:
        again.close()

    # A client that cannot set the header (a new EventSource) passes the id in the query.
    by_query = EventStream(
        f"{stack.base}/api/v1/events?last_event_id={missed[-1].id}",
        {"Authorization": f"Bearer {token}"},
    )
    try:
        assert by_query.next_event(DEADLINE).id == live.id
    finally:
        by_query.close()

    stale = open_stream(stack, token, **{"Last-Event-ID": "1-0"})
    try:
        first = stale.next_event(DEADLINE)
        assert first.event == "reset"
        assert first.id == live.id
    finally:
        stale.close()


def ticket_for(stack: Stack, token: str) -> str:
    status, body = http_json(f"{stack.base}/api/v1/events/tickets", "POST", token=token)
    assert status == 201, body
    assert body["data"]["expires_in"] == 60
    return body["data"]["ticket"]


def assert_refused(stack: Stack, query: str, code: str) -> None:
    stream = EventStream(f"{stack.base}/api/v1/events{query}")
    assert stream.status == 401
    assert stream.content_type == "application/json"
    assert stream.body["success"] is False
    assert stream.body["error"]["code"] == code


def test_a_ticket_opens_one_stream_and_a_used_or_expired_one_is_a_401_envelope(stack):
    token = token_for(stack, "ticket")
    ticket = ticket_for(stack, token)
    stream = EventStream(f"{stack.base}/api/v1/events?ticket={ticket}")
    try:
        assert stream.status == 200
        memory_id = create_memory(stack, token, "by ticket")
        event_for(stream, "memory.created", memory_id)
    finally:
        stream.close()
    assert_refused(stack, f"?ticket={ticket}", "INVALID_TOKEN")

    expiring = ticket_for(stack, token)
    key = "tanka:event-ticket:" + hashlib.sha256(expiring.encode()).hexdigest()
    assert stack.redis.pexpire(key, 1)  # its 60 s, run out
    wait_for(lambda: not stack.redis.exists(key), 10, "the ticket to expire")
    assert_refused(stack, f"?ticket={expiring}", "INVALID_TOKEN")
    assert_refused(stack, "?ticket=", "INVALID_TOKEN")
    assert_refused(stack, "", "NOT_AUTHENTICATED")


def test_the_stream_ends_when_the_access_token_expires(stack):
    token_for(stack, "brief")
    # Long enough for the token to be still valid when the stream opens on a busy machine.
    lifetime = 6
    issued_after = time.monotonic()
    token = django_shell(
        stack,
        "from datetime import timedelta\n"
        "from rest_framework_simplejwt.tokens import AccessToken\n"
        "from apps.users.models import User\n"
        "token = AccessToken.for_user(User.objects.get(email='brief@example.com'))\n"
        f"token.set_exp(lifetime=timedelta(seconds={lifetime}))\n"
        "print(token)\n",
    )
    stream = open_stream(stack, token)
    try:
        while stream.next(DEADLINE + lifetime) is not None:
            pass
        assert stream.ended_at is not None
        # It stayed open until the expiry (pings meanwhile), then the server ended it; the
        # expiry is in whole seconds, hence the margin.
        assert stream.ended_at - issued_after >= lifetime - 1.5
    finally:
        stream.close()
    status, body = http_json(f"{stack.base}/api/v1/events", token=token)
    assert (status, body["error"]["code"]) == (401, "INVALID_TOKEN")


PAGE = """<!doctype html>
<html><body><h1>Live</h1><ul id="memories"></ul><p id="state">starting</p>
<script>
const api = "%(api)s", token = "%(token)s";
const bearer = {headers: {Authorization: `Bearer ${token}`}};
(async () => {
  const answer = await fetch(`${api}/api/v1/events/tickets`, {method: "POST", ...bearer});
  const {data} = await answer.json();
  const events = new EventSource(`${api}/api/v1/events?ticket=${data.ticket}`);
  events.onopen = () => {
    document.getElementById("state").textContent = "open";
    fetch("/ready");
  };
  events.addEventListener("memory.created", async (message) => {
    const {id} = JSON.parse(message.data);
    const memory = (await (await fetch(`${api}/api/v1/memories/${id}`, bearer)).json()).data;
    const item = document.createElement("li");
    item.textContent = memory.content;
    document.getElementById("memories").append(item);
    document.getElementById("state").textContent = "shown";
    events.close();
  });
})();
</script></body></html>
"""


def test_a_browser_page_shows_a_memory_created_through_the_api(stack, chromium, tmp_path):
    token = token_for(stack, "browser")
    page = (PAGE % {"api": stack.base, "token": token}).encode()
    ready = threading.Event()

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/ready":
                ready.set()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(page if self.path == "/" else b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", stack.page_port), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    created: list[str] = []

    def create_when_ready() -> None:
        if ready.wait(60):
            created.append(create_memory(stack, token, "seen in the browser"))

    creator = threading.Thread(target=create_when_ready)
    creator.start()
    try:
        result = subprocess.run(
            [chromium, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
             "--virtual-time-budget=60000", f"http://127.0.0.1:{stack.page_port}/"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        ready.set()
        creator.join()
        server.shutdown()
    assert result.returncode == 0, result.stderr[-2000:]
    assert created, "the page never opened its EventSource"
    assert "<li>seen in the browser</li>" in result.stdout, result.stdout[-2000:]
    assert 'id="state">shown<' in result.stdout


def test_the_benchmark_holds_idle_streams_and_times_a_burst(stack):
    from bench.streams import IdleStreams

    tokens = [token_for(stack, f"bench{index}") for index in range(3)]
    with IdleStreams(stack.base, tokens) as streams:
        assert streams.alive() == 3
        result = streams.burst(
            lambda: [create_memory(stack, token, "burst") for token in tokens], timeout=DEADLINE
        )
    assert result["received"] == result["streams"] == 3
    assert result["still_open"] == 3
    assert 0 < result["p50_seconds"] <= result["all_received_seconds"]


def server_threads(stack: Stack) -> int:
    """Threads of the ASGI server's worker process (granian's child that runs the app)."""
    children = Path(f"/proc/{stack.server.pid}/task/{stack.server.pid}/children").read_text()
    (worker,) = children.split()
    status = Path(f"/proc/{worker}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("Threads:")).split()[1])


def test_open_streams_hold_no_thread_each(stack):
    from bench.streams import IdleStreams

    token = token_for(stack, "threads")
    before = server_threads(stack)
    with IdleStreams(stack.base, [token] * 50) as streams:
        assert streams.alive() == 50
        during = server_threads(stack)
    assert during <= before + 2, (before, during)


def test_api_requests_on_the_asgi_server_share_a_bounded_set_of_database_connections(stack):
    """`make run` serves the whole API from this server, where Django runs each request in a
    thread of its own: a connection kept per thread would be one per request, never reused,
    until PostgreSQL refuses more clients (tanka/asgi.py)."""
    import psycopg

    if not stack.env["DATABASE_URL"].startswith("postgres"):
        pytest.skip("SQLite keeps no server connections")
    token = token_for(stack, "connections")
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(
            pool.map(
                lambda n: create_memory_status(stack, token, f"connection check {n}"), range(120)
            )
        )
    assert statuses == [201] * 120
    name = stack.env["DATABASE_URL"].rsplit("/", 1)[1]
    admin = stack.env["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as db:
        held = db.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (name,)
        ).fetchone()[0]
    # The pool's size (10), plus the workers' and this test's own.
    assert held <= 14, held


def create_memory_status(stack: Stack, token: str, content: str) -> int:
    status, _ = http_json(f"{stack.base}/api/v1/memories", "POST", {"content": content}, token)
    return status
