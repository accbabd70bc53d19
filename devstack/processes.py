"""A child process of the stack: started in its own session, its output in a log file (or
the terminal's), stopped the way each of our servers expects."""

import contextlib
import os
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import IO

from devstack import ROOT
from devstack.net import wait_until


class Process:
    """One child process. Its stdout and stderr go to `log_path` (a temporary file when not
    given) so they can be read while it runs, or to this process's own terminal with
    `inherit_output` (what a person running the stack wants to see)."""

    def __init__(
        self,
        args: list[str],
        env: dict[str, str],
        *,
        log_path: Path | None = None,
        inherit_output: bool = False,
        cwd: Path = ROOT,
    ) -> None:
        self.args = args
        self._log: IO[bytes] | None = None
        if inherit_output:
            self.log_path = None
        else:
            if log_path is None:
                handle, name = tempfile.mkstemp(prefix="devstack-", suffix=".log")
                os.close(handle)
                log_path = Path(name)
            self.log_path = Path(log_path)
            self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            args,
            env=env,
            cwd=cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT if self._log else None,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    @property
    def output(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    @property
    def lines(self) -> list[str]:
        return self.output.splitlines()

    def wait_for_line(self, text: str, timeout: float) -> str:
        """The first line of output containing `text`; TimeoutError when none comes, and
        RuntimeError when the process exits first."""

        def found() -> str | None:
            line = next((line for line in self.lines if text in line), None)
            if line is None and not self.alive():
                line = next((line for line in self.lines if text in line), None)
                if line is None:
                    raise RuntimeError(f"{self.args[:3]} exited before printing {text!r}:\n"
                                       f"{self.output[-5000:]}")  # fmt: skip
            return line

        line = wait_until(found, timeout, interval=0.1)
        if line is None:
            raise TimeoutError(f"no {text!r} in the output within {timeout} s:\n"
                               f"{self.output[-5000:]}")  # fmt: skip
        return line

    def kill(self) -> None:
        """SIGKILL its whole process group (a server and its workers)."""
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self, timeout: float = 20) -> int | None:
        """SIGTERM the leader only (a server stops its workers gracefully, an RQ worker lets
        its job finish), then end whatever of its group outlived it; its exit status."""
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()
            self._log = None
        return self.proc.returncode


def pid_alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return state != "Z"


def clean_env(**overrides: str) -> dict[str, str]:
    """This environment as a fresh machine has it (no database or Redis configured), with
    `overrides`: what a child process of a test or of the local stack starts from."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_"))}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(overrides)
    return env
