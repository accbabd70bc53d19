"""Tasks used only by the tests. Workers started by the system tests import this module
through the task path RQ carries, as they would any app's tasks.py."""

import signal
import time

from apps.jobs.engine import set_progress, task
from apps.jobs.models import Job


@task(name="tests.always_fails", retries=2, retry_intervals=[0])
def always_fails(message: str) -> None:
    raise ValueError(f"{message}\nsecond line of the message")


@task(name="tests.sleeps", timeout=1, retries=0)
def sleeps(seconds: float) -> None:
    time.sleep(seconds)


@task(name="tests.sleeps_quietly", timeout=30, retries=0)
def sleeps_quietly(seconds: float) -> float:
    """A long job that reports no progress."""
    time.sleep(seconds)
    return seconds


@task(name="tests.reports_progress", retries=0)
def reports_progress(job_id: str) -> dict[str, int]:
    """Sets progress and reads it back from the row while still running."""
    set_progress(40)
    row = Job.objects.get(pk=job_id)
    return {"progress": row.progress, "status_while_running": row.status == "running"}


@task(name="tests.returns_object", retries=0)
def returns_object() -> object:
    return object()


@task(name="tests.adds", retries=0)
def adds(a: int, b: int = 0) -> int:
    return a + b


@task(name="tests.atomic_writes", retries=0, atomic=True)
def atomic_writes(note: str, fail: bool) -> str:
    """Writes a row, then fails if asked to."""
    from django.contrib.auth.models import Group

    Group.objects.create(name=note)
    if fail:
        raise RuntimeError("failed after writing")
    return note


@task(name="tests.out_of_reach", timeout=1, retries=0)
def out_of_reach(seconds: float) -> None:
    """Runs past its time limit where RQ's SIGALRM cannot stop it, as C code can."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    try:
        time.sleep(seconds)
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGALRM})


@task(name="tests.fails_noting_final", retries=1, retry_intervals=[0])
def fails_noting_final(key: str) -> None:
    """Fails on every try, noting in a Redis list whether each try was the final one."""
    from apps.core.redis_clients import queue_redis
    from apps.jobs.engine import is_final_attempt

    queue_redis().rpush(key, "final" if is_final_attempt() else "not final")
    raise RuntimeError("failed, as asked")


@task(name="tests.five_retries", retries=5, retry_intervals=[10, 60, 300])
def five_retries() -> None:
    raise RuntimeError("never runs in the test that uses it")
