"""Tasks the worker fault tests enqueue; workers import this module through the task path
RQ carries, as they would any app's tasks.py."""

import time

from django.db import connection

from apps.jobs.engine import current_job_id, task


@task(name="reliability.records_effect", retries=3, retry_intervals=[0], atomic=True)
def records_effect(seconds: float) -> str:
    """Works for `seconds`, then records its side effect: one row per run that committed.

    Atomic, so the row commits with the job's `completed` status or not at all."""
    time.sleep(seconds)
    job_id = current_job_id()
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO reliability_effect (job_id) VALUES (%s)", [job_id])
    return job_id
