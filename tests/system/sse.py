"""A Server-Sent Events client for tests: opens `GET /api/v1/events` on a real server and
collects what arrives on a thread, so a test waits on conditions ("the next event, within N
s") instead of reading a socket that may never answer."""

import http.client
import json
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Event:
    id: str | None
    event: str
    data: str

    @property
    def json(self) -> Any:
        return json.loads(self.data)


@dataclass
class EventStream:
    """One open stream. `items` receives `Event`s, comment lines (`": ping"`) as strings, and
    None when the server ends the stream."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    items: "queue.Queue[Event | str | None]" = field(default_factory=queue.Queue)

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        self.connection.request("GET", path, headers=self.headers)
        self.response = self.connection.getresponse()
        self.status = self.response.status
        self.content_type = self.response.getheader("Content-Type", "")
        self.ended_at: float | None = None
        if self.status == 200:
            threading.Thread(target=self._read, daemon=True).start()
        else:
            self.body = json.loads(self.response.read())

    def _read(self) -> None:
        fields: dict[str, str] = {}
        try:
            for raw in self.response:
                line = raw.decode().rstrip("\r\n")
                if line.startswith(":"):
                    self.items.put(line)
                elif line:
                    name, _, value = line.partition(":")
                    fields[name] = value[1:] if value.startswith(" ") else value
                elif fields:
                    self.items.put(Event(fields.get("id"), fields.get("event", "message"),
                                         fields.get("data", "")))  # fmt: skip
                    fields = {}
        except (OSError, ValueError, AttributeError, http.client.HTTPException):
            pass  # closed by the test
        self.ended_at = time.monotonic()
        self.items.put(None)

    def next(self, timeout: float) -> Event | str | None:
        try:
            return self.items.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"nothing arrived on the stream within {timeout} s") from None

    def next_event(self, timeout: float) -> Event:
        """The next event, skipping comments; fails on the end of the stream or a timeout."""
        deadline = time.monotonic() + timeout
        while True:
            item = self.next(max(0.0, deadline - time.monotonic()))
            if item is None:
                raise AssertionError("the stream ended")
            if isinstance(item, Event):
                return item

    def close(self) -> None:
        self.connection.close()
