"""Open idle live-event streams and measure a broadcast-sized burst (docs/events.md).

    python -m bench.streams --base-url http://127.0.0.1:8080 --streams 1000 --mint

opens `--streams` Server-Sent Events streams (`GET /api/v1/events`, one user each), all from
this one process on one asyncio loop, keeps them open for `--hold` seconds (idle: only pings
pass), then publishes one event to each stream's user at once and reports how long until
every stream had its event. It prints one JSON object.

In Python, `IdleStreams` is a context manager that keeps the streams open around anything
else (another benchmark's workloads), on a thread of its own:

    with IdleStreams(base_url, tokens) as streams:
        run_other_workloads()
        result = streams.burst(publish_one_each)

Tokens: `--tokens-file` (one access token per line, user i's on line i), or `--mint`, which
creates the users `bench-stream-<i>@example.com` and signs their tokens through Django, so it
needs the server's settings in this process's environment (DATABASE_URL, JWT_SECRET_KEY).
The burst is published with the application's own `apps.core.pubsub.publish` (the function
every write calls on commit) to the Redis in REDIS_URL, which must be the server's. Each
stream is a socket here and one on the server: this process raises its open-file limit to the
hard limit and refuses to start when that is too low.
"""

import argparse
import asyncio
import json
import math
import os
import resource
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

EVENTS_PATH = "/api/v1/events"
# File descriptors this process needs beyond one per stream.
SPARE_FILES = 64


def raise_file_limit(needed: int) -> int:
    """Raise this process's open-file limit to the hard limit; fail when it is below `needed`."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    if soft < needed:
        raise SystemExit(
            f"{needed} open files are needed and the limit is {soft}: raise it (ulimit -n)"
        )
    return soft


@dataclass
class Stream:
    """One open stream: when it opened and when events arrived (loop time)."""

    index: int
    opened_at: float | None = None
    events: list[float] = field(default_factory=list)
    error: str | None = None
    ended: bool = False


class IdleStreams:
    """`len(tokens)` streams held open on a background asyncio loop until the block ends."""

    def __init__(self, base_url: str, tokens: list[str], *, open_timeout: float = 120) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.tokens = tokens
        self.open_timeout = open_timeout
        self.streams = [Stream(index) for index in range(len(tokens))]
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.tasks: list[asyncio.Task[None]] = []

    def __enter__(self) -> "IdleStreams":
        raise_file_limit(len(self.tokens) + SPARE_FILES)
        self.thread.start()
        started = time.monotonic()
        asyncio.run_coroutine_threadsafe(self._open_all(), self.loop).result()
        deadline = started + self.open_timeout
        while time.monotonic() < deadline:
            if all(s.opened_at is not None or s.error for s in self.streams):
                break
            time.sleep(0.05)
        self.open_seconds = time.monotonic() - started
        failed = [s for s in self.streams if s.opened_at is None]
        if failed:
            self.__exit__(None, None, None)
            first = next((s.error for s in failed if s.error), "not open in time")
            raise RuntimeError(
                f"{len(failed)} of {len(self.streams)} streams did not open: {first}"
            )
        return self

    def __exit__(self, *exc: object) -> None:
        async def close_all() -> None:
            for task in self.tasks:
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)

        if self.thread.is_alive():
            asyncio.run_coroutine_threadsafe(close_all(), self.loop).result(timeout=60)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)
        self.loop.close()

    async def _open_all(self) -> None:
        self.tasks = [
            self.loop.create_task(self._hold(stream, token))
            for stream, token in zip(self.streams, self.tokens, strict=True)
        ]

    async def _hold(self, stream: Stream, token: str) -> None:
        writer = None
        try:
            reader, writer = await asyncio.open_connection(self.host, self.port)
            writer.write(
                f"GET {EVENTS_PATH} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n".encode()
            )
            await writer.drain()
            status = await reader.readline()
            headers = {}
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                headers[name.strip().lower()] = value.strip()
            if b" 200 " not in status or headers.get("transfer-encoding") != "chunked":
                stream.error = f"{status.decode().strip()} {headers.get('content-type')}"
                return
            stream.opened_at = self.loop.time()
            while True:
                size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    stream.ended = True
                    return
                chunk = await reader.readexactly(size + 2)
                if b"\nevent: " in chunk or chunk.startswith(b"event: "):
                    stream.events.append(self.loop.time())
        except asyncio.CancelledError:
            raise
        except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
            stream.error = f"{type(exc).__name__}: {exc}"
        finally:
            if writer is not None:
                writer.close()

    def alive(self) -> int:
        return sum(
            1 for s in self.streams if s.opened_at is not None and not s.ended and not s.error
        )

    def burst(self, publish_one_each: Callable[[], None], *, timeout: float = 60) -> dict[str, Any]:
        """Call `publish_one_each` (one event to each stream's user) and wait until every
        stream received an event after the call began: the seconds until the last did."""
        before = [len(s.events) for s in self.streams]
        started = self.loop.time()
        publish_one_each()
        published = self.loop.time() - started
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(len(s.events) > n for s, n in zip(self.streams, before, strict=True)):
                break
            time.sleep(0.01)
        arrivals = sorted(
            s.events[n] - started
            for s, n in zip(self.streams, before, strict=True)
            if len(s.events) > n
        )
        return {
            "streams": len(self.streams),
            "received": len(arrivals),
            "publish_seconds": round(published, 4),
            "all_received_seconds": round(arrivals[-1], 4) if arrivals else None,
            "p50_seconds": round(statistics.median(arrivals), 4) if arrivals else None,
            "p99_seconds": (
                round(arrivals[max(0, math.ceil(len(arrivals) * 0.99) - 1)], 4)
                if arrivals
                else None
            ),
            "still_open": self.alive(),
        }


def mint_tokens(count: int) -> tuple[list[str], list[str]]:
    """`count` users' ids and access tokens, made through Django (the server's settings)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tanka.settings")
    import django

    django.setup()
    from rest_framework_simplejwt.tokens import AccessToken

    from apps.users.models import User

    emails = [f"bench-stream-{index}@example.com" for index in range(count)]
    existing = set(User.objects.filter(email__in=emails).values_list("email", flat=True))
    User.objects.bulk_create(
        [User(email=email, password="!") for email in emails if email not in existing]
    )
    users = {user.email: user for user in User.objects.filter(email__in=emails)}
    ordered = [users[email] for email in emails]
    return [str(user.pk) for user in ordered], [str(AccessToken.for_user(u)) for u in ordered]


def user_ids_of(tokens: list[str]) -> list[str]:
    """The user id inside each token (no signature check: the server checks those)."""
    import base64

    ids = []
    for token in tokens:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        ids.append(str(claims["user_id"]))
    return ids


def publisher(user_ids: list[str]) -> Callable[[], None]:
    """One `bench.burst` event to each user, published as every write publishes its own."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tanka.settings")
    import django

    django.setup()
    from apps.core.pubsub import publish

    def publish_one_each() -> None:
        for user_id in user_ids:
            publish(user_id=user_id, event="bench.burst", object_id=user_id)

    return publish_one_each


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.streams", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="the server")
    parser.add_argument("--streams", type=int, default=1000, help="streams to open (1,000)")
    parser.add_argument("--hold", type=float, default=5.0, help="seconds idle before the burst")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--tokens-file", type=Path, help="one access token per line")
    source.add_argument("--mint", action="store_true", help="make users and tokens via Django")
    args = parser.parse_args(argv)

    if args.mint:
        user_ids, tokens = mint_tokens(args.streams)
    else:
        tokens = args.tokens_file.read_text().split()[: args.streams]
        user_ids = user_ids_of(tokens)
    publish_one_each = publisher(user_ids)
    with IdleStreams(args.base_url, tokens) as streams:
        time.sleep(args.hold)
        idle_open = streams.alive()
        result = streams.burst(publish_one_each)
    result = {"open_seconds": round(streams.open_seconds, 2), "open_after_hold": idle_open,
              **result}  # fmt: skip
    print(json.dumps(result, indent=2))
    return 0 if result["received"] == result["streams"] else 1


if __name__ == "__main__":
    sys.exit(main())
