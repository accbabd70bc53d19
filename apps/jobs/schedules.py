"""Schedules and jobs for later: when each is due, and firing each exactly once.

Every worker started with `--with-scheduler` runs a scheduler process, and each of them calls
`tick` about once a second (`apps/jobs/worker.py`, `TankaScheduler`). There is no lock to win:
all of them release the `scheduled` jobs whose time has come and fire the schedules that are
due, and the database decides who did it.

- A `scheduled` job is released by a compare-and-set (`scheduled` -> `pending`) and handed to
  its queue by the process whose statement matched the row.
- A schedule is fired by a compare-and-set on its `next_run_at`, in the same transaction as
  the firing's job rows, each with its `scheduled_for`; a unique constraint on
  (schedule, scheduled_for) refuses a second row for the same firing, so even two schedulers
  that both passed the compare-and-set (it cannot happen, but a lock expiring mid-firing is
  how it would) cannot run one firing twice.

So a schedule fires within a tick of its time while any one scheduler runs, a scheduler that
dies leaves no gap to wait out, and a firing never runs twice.

**Missed firings.** A firing is missed when no scheduler reached it in time: more than
`MISSED_AFTER` seconds passed between two scheduler passes (every worker was down), or the
firing is more than `MISSED_AFTER` seconds late. The
schedule's `catch_up` says what happens to missed firings: `skip` drops them (the schedule
fires next at its next time), `once` runs one job for all of them (its `scheduled_for` is
the latest one), `all` runs a job for each. A `once` schedule fires late rather than never.
"""

import logging
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from croniter import croniter
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core.exceptions import ServiceUnavailableError
from apps.jobs import engine, lifecycle
from apps.jobs.models import (
    ACTIVE_STATUSES,
    CatchUp,
    Job,
    JobStatus,
    Schedule,
    ScheduleKind,
)

logger = logging.getLogger("tanka.jobs")

# Seconds: a pass this long after the previous one, or a firing this late, means missed.
MISSED_AFTER = 5
CLOCK_KEY = "tanka:jobs:scheduler-clock"
# Per schedule and pass, for `catch_up = all` after a long downtime; the next pass goes on.
FIRE_LIMIT = 100
RELEASE_BATCH = 500


# --- Time ---------------------------------------------------------------------------


def cron_error(expression: str) -> str | None:
    """Why `expression` is not a five-field cron expression; None when it is one."""
    if len(expression.split()) != 5:
        return "Enter five fields: minute hour day-of-month month day-of-week."
    if not croniter.is_valid(expression):
        return f"{expression!r} is not a valid cron expression."
    return None


def zone_error(name: str) -> str | None:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return f"{name!r} is not an IANA time zone (e.g. UTC, Europe/Paris)."
    return None


def _cron(schedule: Schedule, start: datetime) -> croniter:
    return croniter(schedule.cron, start.astimezone(zoneinfo.ZoneInfo(schedule.timezone)))


def _after(schedule: Schedule, moment: datetime) -> datetime | None:
    """The schedule's first time strictly after `moment` (None for a `once`)."""
    if schedule.kind == ScheduleKind.INTERVAL:
        return moment + timedelta(seconds=schedule.interval_seconds)
    if schedule.kind == ScheduleKind.CRON:
        return _cron(schedule, moment).get_next(datetime).astimezone(UTC)
    return None


def _first_after(schedule: Schedule, start: datetime, moment: datetime) -> datetime:
    """The first of the schedule's times from `start` on that is after `moment`."""
    if start > moment:
        return start
    if schedule.kind == ScheduleKind.INTERVAL:
        step = schedule.interval_seconds
        periods = int((moment - start).total_seconds() // step) + 1
        return start + timedelta(seconds=periods * step)
    return _after(schedule, moment)


def _latest_at_or_before(schedule: Schedule, start: datetime, moment: datetime) -> datetime:
    """The last of the schedule's times from `start` on that is at or before `moment`
    (`start` itself is one, and is at or before `moment`)."""
    if schedule.kind == ScheduleKind.INTERVAL:
        step = schedule.interval_seconds
        return start + timedelta(seconds=int((moment - start).total_seconds() // step) * step)
    if schedule.kind == ScheduleKind.CRON:
        # Cron times are whole minutes: from the next whole second, the previous is <= moment.
        probe = moment.replace(microsecond=0) + timedelta(seconds=1)
        latest = _cron(schedule, probe).get_prev(datetime).astimezone(UTC)
        return max(latest, start)
    return start


def first_run(schedule: Schedule, now: datetime | None = None) -> datetime | None:
    """When a new (or re-enabled, or changed) schedule fires first; None if it never will."""
    now = now or timezone.now()
    if schedule.repeats == 0:
        return None
    if schedule.kind == ScheduleKind.ONCE:
        return schedule.run_at
    return _after(schedule, now)


def upcoming(schedule: Schedule, count: int = 3) -> list[datetime]:
    """The schedule's next `count` times, for the admin."""
    times: list[datetime] = []
    moment = schedule.next_run_at if schedule.enabled else None
    while moment is not None and len(times) < count:
        if 0 <= schedule.repeats <= len(times):
            break
        times.append(moment)
        moment = _after(schedule, moment)
    return times


@dataclass
class Plan:
    """What one pass does with one due schedule."""

    fire: list[datetime]
    next_run_at: datetime | None
    missed: int = 0


def plan(schedule: Schedule, now: datetime, *, downtime: bool) -> Plan:
    """Which of a due schedule's times fire now, and its next time after them."""
    start = schedule.next_run_at
    assert start is not None and start <= now
    if schedule.kind == ScheduleKind.ONCE:
        return Plan([start], None)
    if schedule.catch_up == CatchUp.ALL:
        times = list(_times(schedule, start, now, FIRE_LIMIT))
        return Plan(times, _after(schedule, times[-1]))
    # Times at or before `cutoff` are missed; later ones (up to now) are on time.
    cutoff = now if downtime else now - timedelta(seconds=MISSED_AFTER)
    on_time = list(_times(schedule, _first_after(schedule, start, cutoff), now, FIRE_LIMIT))
    fire, missed = on_time, 0
    if start <= cutoff:
        latest_missed = _latest_at_or_before(schedule, start, cutoff)
        missed = _count(schedule, start, latest_missed)
        if schedule.catch_up == CatchUp.ONCE:
            fire = [latest_missed, *on_time]
    last = max([*fire, _latest_at_or_before(schedule, start, now)])
    return Plan(fire, _after(schedule, last), missed)


def _times(schedule: Schedule, start: datetime, until: datetime, limit: int) -> Iterator[datetime]:
    moment: datetime | None = start
    for _ in range(limit):
        if moment is None or moment > until:
            return
        yield moment
        moment = _after(schedule, moment)


def _count(schedule: Schedule, start: datetime, last: datetime) -> int:
    """How many of the schedule's times lie from `start` to `last` (for the log)."""
    if schedule.kind == ScheduleKind.INTERVAL:
        return int((last - start).total_seconds() // schedule.interval_seconds) + 1
    return sum(1 for _ in _times(schedule, start, last, 10_000))


# --- A pass -------------------------------------------------------------------------


@dataclass
class Report:
    released: list[str] = field(default_factory=list)
    fired: list[str] = field(default_factory=list)
    skipped: int = 0


def tick(connection: redis.Redis, now: datetime | None = None) -> Report:
    """One scheduler pass: release due jobs, fire due schedules; safe to run in any number
    of processes at once."""
    now = now or timezone.now()
    previous = connection.get(CLOCK_KEY)
    # No record (a new Redis): only how late each firing is tells.
    downtime = previous is not None and now.timestamp() - float(previous) > MISSED_AFTER
    report = Report()
    release_due(now, report)
    fire_due(now, report, downtime=downtime)
    connection.set(CLOCK_KEY, now.timestamp(), ex=24 * 3600)
    return report


def release_due(now: datetime, report: Report) -> None:
    """Hand every `scheduled` job whose time has come to its queue."""
    due = (
        Job.objects.filter(status=JobStatus.SCHEDULED, scheduled_for__lte=now)
        .only("id", "name", "queue", "timeout", "max_retries", "attempts", "owner_id")
        .order_by("scheduled_for")[:RELEASE_BATCH]
    )
    for job in due:
        if lifecycle.release(job) is None:
            continue  # another scheduler released it, or it was cancelled meanwhile
        try:
            engine.push(job, engine.get_task(job.name), first=True)
        except LookupError as exc:
            lifecycle.fail_unqueued(job, reason=lifecycle.one_line(str(exc)))
            continue
        except ServiceUnavailableError:
            continue  # push marked it failed, with the reason
        report.released.append(str(job.id))


def fire_due(now: datetime, report: Report, *, downtime: bool) -> None:
    due = Schedule.objects.filter(enabled=True, next_run_at__lte=now).order_by("next_run_at")
    for schedule in due[:FIRE_LIMIT]:
        try:
            fire(schedule, plan(schedule, now, downtime=downtime), now, report)
        except Exception:
            logger.exception("schedule %r could not be fired; the next pass tries again", schedule)


def fire(schedule: Schedule, plan_: Plan, now: datetime, report: Report) -> list[Job]:
    """Fire `plan_` for `schedule`: move its `next_run_at` on and write the firings' jobs in
    one transaction, which a second scheduler racing for the same firing cannot repeat (its
    compare-and-set matches nothing; were it to, the unique constraint refuses its rows)."""
    try:
        task_ = engine.get_task(schedule.task).using(queue=schedule.queue or None)
    except LookupError:
        logger.error("schedule %r: no task is registered as %r", schedule.name, schedule.task)
        task_ = None
    jobs: list[Job] = []
    skipped = 0
    try:
        with transaction.atomic():
            repeats = schedule.repeats
            previous_busy = not schedule.allow_overlap and _still_active(schedule.last_job_id)
            for moment in plan_.fire:
                if task_ is None or repeats == 0 or previous_busy:
                    skipped += 1
                    continue
                try:
                    jobs.append(_create_firing(schedule, task_, moment))
                except engine.TaskArgumentError as exc:
                    logger.error("schedule %r: %s", schedule.name, exc)
                    skipped += 1
                    continue
                repeats -= 1 if repeats > 0 else 0
                previous_busy = not schedule.allow_overlap
            done = repeats == 0 or plan_.next_run_at is None
            moved = Schedule.objects.filter(
                pk=schedule.pk, enabled=True, next_run_at=schedule.next_run_at
            ).update(
                next_run_at=None if done else plan_.next_run_at,
                repeats=repeats,
                last_run_at=now if jobs else schedule.last_run_at,
                last_job_id=jobs[-1].pk if jobs else schedule.last_job_id,
                updated_at=now,
            )
            if not moved:
                # Another scheduler fired it first (or it was changed meanwhile): undo ours.
                transaction.set_rollback(True)
                return []
            for job in jobs:
                transaction.on_commit(lambda job=job: _push(job, task_))
    except IntegrityError:
        logger.info("schedule %r: another scheduler fired this firing", schedule.name)
        return []
    report.fired.extend(str(job.id) for job in jobs)
    report.skipped += skipped
    if plan_.missed or skipped:
        logger.warning(
            "schedule %r: %d firing(s) missed (catch_up %s), %d skipped, %d fired",
            schedule.name, plan_.missed, schedule.catch_up, skipped, len(jobs),
        )  # fmt: skip
    return jobs


def _still_active(job_id: Any) -> bool:
    return job_id is not None and Job.objects.filter(pk=job_id, status__in=ACTIVE_STATUSES).exists()


def _create_firing(schedule: Schedule, task_: engine.Task, moment: datetime | None) -> Job:
    """One firing's job row, `pending`, handed to its queue at the commit."""
    task_.check_arguments(tuple(schedule.args), schedule.kwargs)
    return Job.objects.create(
        name=task_.name,
        queue=task_.queue,
        args=list(schedule.args),
        kwargs=schedule.kwargs,
        max_retries=task_.retries,
        timeout=task_.timeout,
        schedule=schedule,
        scheduled_for=moment,
        enqueued_at=timezone.now(),
    )


def _push(job: Job, task_: engine.Task) -> None:
    try:
        engine.push(job, task_, first=True)
    except ServiceUnavailableError:
        pass  # the row says it failed, and why


def run_now(schedule: Schedule) -> Job:
    """An extra firing now, outside the schedule's times ("Run now" in the admin): it does
    not use up a repeat nor move `next_run_at`."""
    task_ = engine.get_task(schedule.task).using(queue=schedule.queue or None)
    now = timezone.now()
    with transaction.atomic():
        job = _create_firing(schedule, task_, now)
        Schedule.objects.filter(pk=schedule.pk).update(last_job=job, last_run_at=now)
        transaction.on_commit(lambda: engine.push(job, task_, first=True))
    schedule.last_job, schedule.last_run_at = job, now
    return job


# --- Validation and changes -----------------------------------------------------------


def errors(schedule: Schedule) -> dict[str, str]:
    """What is wrong with a schedule, by field (empty when nothing is)."""
    found: dict[str, str] = {}
    task_ = None
    try:
        task_ = engine.get_task(schedule.task)
    except LookupError:
        known = ", ".join(sorted(engine.registered_tasks()))
        found["task"] = f"No task is registered as {schedule.task!r}. Known tasks: {known}."
    if not isinstance(schedule.args, list):
        found["args"] = 'Enter a JSON list, e.g. [1, "two"].'
    if not isinstance(schedule.kwargs, dict):
        found["kwargs"] = 'Enter a JSON object, e.g. {"key": "value"}.'
    if task_ is not None and not ({"args", "kwargs"} & found.keys()):
        try:
            task_.check_arguments(tuple(schedule.args), schedule.kwargs)
        except engine.TaskArgumentError as exc:
            found["kwargs" if schedule.kwargs else "args"] = str(exc)
    if schedule.queue and schedule.queue not in settings.RQ_QUEUES:
        found["queue"] = f"Use one of {', '.join(settings.RQ_QUEUES)}, or leave it blank."
    if schedule.kind == ScheduleKind.ONCE and schedule.run_at is None:
        found["run_at"] = "A once schedule needs its time."
    if schedule.kind == ScheduleKind.INTERVAL and not (schedule.interval_seconds or 0) >= 1:
        found["interval_seconds"] = "An interval schedule needs at least 1 second."
    if schedule.kind == ScheduleKind.CRON:
        message = cron_error(schedule.cron or "")
        if message:
            found["cron"] = message
    message = zone_error(schedule.timezone or "")
    if message:
        found["timezone"] = message
    if schedule.repeats < -1:
        found["repeats"] = "Enter -1 (forever) or how many more firings."
    return found


TIMING_FIELDS = ("kind", "run_at", "interval_seconds", "cron", "timezone", "repeats", "enabled")


def reschedule(schedule: Schedule, now: datetime | None = None) -> None:
    """Set `next_run_at` afresh after a change of timing (or on enabling): firings missed
    while a schedule was disabled or different are not caught up."""
    schedule.next_run_at = first_run(schedule, now) if schedule.enabled else None


def set_enabled(queryset: Any, enabled: bool) -> int:
    """Enable or disable schedules; an enabled one fires next at its next time from now."""
    count = 0
    for schedule in queryset.filter(enabled=not enabled):
        schedule.enabled = enabled
        reschedule(schedule)
        schedule.save(update_fields=["enabled", "next_run_at", "updated_at"])
        count += 1
    return count


# --- Schedules declared in code -------------------------------------------------------


def declared() -> dict[str, dict[str, Any]]:
    """The schedules declared with `@task(schedule=...)`, as Schedule fields by name."""
    found: dict[str, dict[str, Any]] = {}
    for task_ in engine.registered_tasks().values():
        spec = task_.schedule
        if spec is None:
            continue
        fields: dict[str, Any] = {
            "task": task_.name,
            "args": list(spec.args),
            "kwargs": dict(spec.kwargs),
            "catch_up": spec.catch_up,
            "allow_overlap": spec.allow_overlap,
            "queue": "",
            "run_at": None,
            "repeats": -1,
        }
        if isinstance(spec, engine.Every):
            fields.update(kind=ScheduleKind.INTERVAL, interval_seconds=spec.seconds, cron="")
            fields["timezone"] = "UTC"
        else:
            fields.update(kind=ScheduleKind.CRON, cron=spec.expression, interval_seconds=None)
            fields["timezone"] = spec.timezone
        found[spec.name or task_.name] = fields
    return found


def sync_declared(**_: Any) -> None:
    """Create or update the schedules declared in code, by name, and delete those no longer
    declared (run after `migrate`, so every deploy does it, and does it once: the name is
    unique). An operator's `enabled` is kept; a change of timing sets `next_run_at` afresh."""
    specs = declared()
    for name, fields in specs.items():
        for _attempt in range(2):
            try:
                with transaction.atomic():
                    _sync_one(name, fields)
                break
            except IntegrityError:
                continue  # another deploy created it at the same moment: update it
    stale = Schedule.objects.filter(declared_in_code=True).exclude(name__in=specs)
    for schedule in stale:
        logger.info("schedule %r is no longer declared in code: deleted", schedule.name)
    stale.delete()


def _sync_one(name: str, fields: dict[str, Any]) -> None:
    schedule = Schedule.objects.select_for_update().filter(name=name).first()
    if schedule is None:
        schedule = Schedule(name=name, declared_in_code=True, **fields)
        problems = errors(schedule)
        if problems:
            logger.error("schedule %r declared in code is invalid: %s", name, problems)
            return
        reschedule(schedule)
        schedule.save()
        return
    timing_changed = any(
        getattr(schedule, key) != value for key, value in fields.items() if key in TIMING_FIELDS
    )
    for key, value in fields.items():
        setattr(schedule, key, value)
    schedule.declared_in_code = True
    if timing_changed or (schedule.enabled and schedule.next_run_at is None):
        reschedule(schedule)
    schedule.save()
