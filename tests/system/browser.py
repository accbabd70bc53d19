"""A headless Chromium driven through the DevTools protocol over a pipe
(`--remote-debugging-pipe`: JSON messages, each ended by a NUL byte, read by the browser on
its fd 3 and written on its fd 4), so a test can fill in forms, click and read the page with
no driver or client library beyond the browser itself."""

import contextlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

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
]


class BrowserError(AssertionError):
    pass


class Browser:
    """One page of a fresh Chromium profile."""

    def __init__(self, executable: str, profile: Path) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def give_pipes_to_the_browser() -> None:
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        self.process = subprocess.Popen(
            [executable, *FLAGS, "--remote-debugging-pipe", f"--user-data-dir={profile}",
             "about:blank"],
            pass_fds=(3, 4),
            preexec_fn=give_pipes_to_the_browser,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        self.send("Page.enable", session=True)
        self.send("Runtime.enable", session=True)

    def send(self, method: str, session: bool = False, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def _read(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise BrowserError("the browser closed its pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def evaluate(self, expression: str) -> Any:
        result = self.send(
            "Runtime.evaluate", session=True, expression=expression, returnByValue=True,
            awaitPromise=True,
        )  # fmt: skip
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression!r}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def set_cookie(self, url: str, name: str, value: str) -> None:
        self.send("Network.setCookie", session=True, url=url, name=name, value=value)

    def open(self, url: str, timeout: float = 30) -> None:
        self.send("Page.navigate", session=True, url=url)
        self.wait_for(f"location.href.startsWith({json.dumps(url)}) && "
                      "document.readyState === 'complete'", timeout)  # fmt: skip

    def submit(self, click_selector: str, timeout: float = 30) -> None:
        """Click what submits a form and wait for the page that answers."""
        self.evaluate("window.__before_submit = true")
        self.evaluate(f"document.querySelector({json.dumps(click_selector)}).click()")
        self.wait_for("window.__before_submit === undefined && document.readyState === "
                      "'complete'", timeout)  # fmt: skip

    def wait_for(self, expression: str, timeout: float = 30) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(BrowserError):
                value = self.evaluate(expression)
                if value:
                    return value
            if time.monotonic() > deadline:
                raise BrowserError(f"timed out after {timeout} s waiting for {expression}")
            time.sleep(0.1)

    def text(self, selector: str) -> str:
        """The element's text as written (not as styled), white space collapsed."""
        found = self.evaluate(
            f"(document.querySelector({json.dumps(selector)}) || {{textContent: ''}}).textContent"
        )
        return " ".join(found.replace("\xa0", " ").split())

    def fill(self, values: dict[str, str]) -> None:
        """Set form fields by name (inputs, text areas and selects)."""
        self.evaluate(
            f"Object.entries({json.dumps(values)}).forEach(([name, value]) => "
            '{ document.querySelector(`[name="${name}"]`).value = value; })'
        )

    def status(self) -> int:
        """The HTTP status of the page's document."""
        return self.evaluate("performance.getEntriesByType('navigation')[0].responseStatus")

    def requested(self) -> list[str]:
        """Every URL the page fetched: its document and each asset, loaded or failed."""
        return self.evaluate(
            "performance.getEntriesByType('navigation')"
            ".concat(performance.getEntriesByType('resource')).map(entry => entry.name)"
        )

    def href(self, text: str) -> str:
        """The href (as written) of the first link whose text is `text`."""
        found = self.evaluate(
            "[...document.querySelectorAll('a')].filter(a => "
            f"a.textContent.trim().replace(/\\s+/g, ' ') === {json.dumps(text)})"
            ".map(a => a.getAttribute('href'))[0]"
        )
        if found is None:
            raise BrowserError(f"no link {text!r} on {self.evaluate('location.href')}")
        return found

    def close(self) -> None:
        with contextlib.suppress(OSError, BrowserError):
            self.send("Browser.close")
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, 9)
            self.process.wait()
        for fd in (self._to_browser, self._from_browser):
            with contextlib.suppress(OSError):
                os.close(fd)
