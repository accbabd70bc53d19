"""Headless Chromium from its command line: the DOM a page ends with once its scripts ran, a
screenshot of it, and what Chromium's net log says the page fetched.

No browser driver library: `--dump-dom`, `--screenshot` and `--log-net-log` in one run tell
what a user sees and whether the page reached for anything outside the server.
"""

import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--window-size=1280,900",
]


class _Reader(HTMLParser):
    """The visible text of a page and its links, as (text, href) pairs."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.links: list[tuple[str, str]] = []
        self._skip = 0
        self._link: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "template"):
            self._skip += 1
        elif tag == "a":
            self._link = (dict(attrs).get("href") or "", [])

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "template"):
            self._skip = max(0, self._skip - 1)
        elif tag == "a" and self._link is not None:
            href, words = self._link
            self.links.append((" ".join(" ".join(words).split()), href))
            self._link = None

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self.text.append(data)
        if self._link is not None:
            self._link[1].append(data)


@dataclass
class Page:
    """One page as Chromium left it."""

    url: str
    dom: str
    screenshot: Path
    status: int | None
    # Every URL the page itself asked for: the document, its redirects, its assets. Requests
    # Chromium makes for its own sake (updates, accounts) are left out.
    requested: list[str] = field(default_factory=list)
    text: str = field(init=False)  # what the page reads, whitespace collapsed
    links: list[tuple[str, str]] = field(init=False)  # (text, href) of each link

    def __post_init__(self) -> None:
        reader = _Reader()
        reader.feed(self.dom)
        self.text = " ".join(" ".join(reader.text).split())
        self.links = reader.links

    def href(self, text: str) -> str:
        """The href of the link whose visible text is `text`; fails when there is none."""
        found = [href for words, href in self.links if words == text]
        assert found, f"no link {text!r} on {self.url}; links: {self.links}"
        return found[0]

    def foreign_requests(self) -> list[str]:
        """What the page fetched from anywhere but the server it came from."""
        origin = urlsplit(self.url)[:2]
        return [url for url in self.requested if urlsplit(url)[:2] != origin]

    def pixels_near(self, colour: tuple[int, int, int], tolerance: int = 8) -> int:
        """How many pixels of the screenshot are within `tolerance` of `colour` (RGB)."""
        from PIL import Image

        with Image.open(self.screenshot) as image:
            rgb = image.convert("RGB")
            return sum(
                count
                for count, pixel in rgb.getcolors(maxcolors=rgb.width * rgb.height)
                if all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True))
            )


def _read_net_log(path: Path, page_origin: str) -> tuple[list[str], int | None]:
    """The URLs the page asked for, and the status of its document's last response."""
    log = json.loads(path.read_text())
    names = {number: name for name, number in log["constants"]["logEventTypes"].items()}
    requested: list[str] = []
    document: int | None = None
    statuses: dict[int, int] = {}
    for event in log["events"]:
        name, params, source = names[event["type"]], event.get("params") or {}, event["source"]
        if name == "URL_REQUEST_START_JOB" and "url" in params:
            main_frame = params.get("request_type") == "main frame"
            if main_frame or params.get("initiator") == page_origin:
                requested.append(params["url"])
            if main_frame:
                document = source["id"]
        elif name == "HTTP_TRANSACTION_READ_RESPONSE_HEADERS" and params.get("headers"):
            status = re.match(r"HTTP/\S+ (\d{3})", params["headers"][0])
            if status:
                statuses[source["id"]] = int(status.group(1))
    return requested, statuses.get(document) if document is not None else None


def render(chromium: str, url: str, workdir: Path, *, virtual_time_ms: int = 15000) -> Page:
    """Open `url` in a fresh profile under `workdir` and return the page once its scripts
    settled, or once `virtual_time_ms` of page time passed (virtual time runs ahead while
    the page waits on nothing, so an idle page costs no real waiting)."""
    workdir.mkdir(parents=True, exist_ok=True)
    screenshot, net_log = workdir / "page.png", workdir / "net-log.json"
    result = subprocess.run(
        [chromium, *FLAGS, f"--user-data-dir={workdir / 'profile'}",
         f"--virtual-time-budget={virtual_time_ms}", f"--screenshot={screenshot}",
         f"--log-net-log={net_log}", "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    scheme, netloc = urlsplit(url)[:2]
    requested, status = _read_net_log(net_log, f"{scheme}://{netloc}")
    return Page(url, result.stdout, screenshot, status, requested)
