"""The admin's schedules and engine summary in a real headless Chromium: forms filled in and
submitted, actions chosen and run, as an operator does (tests/system/browser.py)."""

import pytest

from apps.jobs.models import Job, Schedule
from tests.system.browser import Browser

pytestmark = [pytest.mark.system, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser(browser, live_server, staff_client) -> Browser:
    """The page, logged in as staff."""
    browser.set_cookie(live_server.url, "sessionid", staff_client.cookies["sessionid"].value)
    return browser


def add_schedule(browser: Browser, base: str, **fields: str) -> None:
    browser.open(f"{base}/admin/jobs/schedule/add/")
    browser.fill({"name": "nightly-test", "task": "test", "kind": "cron", "cron": "30 2 * * *",
                  "timezone": "Europe/Paris", "kwargs": '{"payload": {"from": "admin"}}',
                  **fields})  # fmt: skip
    browser.submit("input[name=_save]")


def test_a_schedule_is_created_through_the_add_form_and_shows_its_next_runs(browser, live_server):
    add_schedule(browser, live_server.url)

    assert browser.evaluate("location.pathname") == "/admin/jobs/schedule/"
    schedule = Schedule.objects.get(name="nightly-test")
    assert (schedule.kind, schedule.cron, schedule.kwargs) == (
        "cron", "30 2 * * *", {"payload": {"from": "admin"}},
    )  # fmt: skip
    row = browser.text("#result_list tbody tr")
    assert "At 02:30 AM" in row
    assert row.count(":30:00") == 3, "the next three runs of a cron schedule"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"cron": "0 25 * * *"}, "cron", "not a valid cron expression"),
        ({"task": "no_such_task"}, "task", "No task is registered as 'no_such_task'"),
    ],
)
def test_the_add_form_refuses_a_bad_cron_string_or_an_unknown_task_on_the_field(
    browser, live_server, fields, field, message
):
    add_schedule(browser, live_server.url, **fields)

    assert browser.evaluate("location.pathname") == "/admin/jobs/schedule/add/"
    assert message in browser.text(f".field-{field} .errorlist")
    assert not Schedule.objects.filter(name="nightly-test").exists()


def test_run_now_starts_a_job_from_the_schedules_list(browser, live_server):
    schedule = Schedule.objects.create(
        name="hourly", task="test", kind="interval", interval_seconds=3600
    )
    browser.open(f"{live_server.url}/admin/jobs/schedule/")

    browser.evaluate(
        f"document.querySelector('input[name=_selected_action][value=\"{schedule.pk}\"]')"
        ".checked = true"
    )
    browser.fill({"action": "run_now"})
    browser.submit("button[name=index]")

    job = Job.objects.get(schedule=schedule)
    assert "Hourly: started job" in browser.text("ul.messagelist")
    assert str(job.pk) in browser.text("ul.messagelist")
    assert job.status == "pending"


def test_the_admin_index_shows_the_engine_summary(browser, live_server):
    Job.objects.create(name="test", queue="default", timeout=60, status="failed")
    for _ in range(2):
        Job.objects.create(name="test", queue="default", timeout=60, status="pending")

    browser.open(f"{live_server.url}/admin/")

    summary = browser.text("#jobs-summary")
    assert "Task engine" in summary
    assert "pending 2" in summary and "failed 1" in summary
    assert "Oldest pending" in summary and "Workers alive" in summary
    for queue in ("high_priority", "default", "low_priority"):
        assert queue in summary
