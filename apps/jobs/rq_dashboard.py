"""django-rq's dashboard in the admin, gated and made to act on Job rows.

django-rq checks only `is_staff` in its views, and its one permission (`django_rq.admin`,
"Access admin page") gates only the link on the admin index. Its queue actions change RQ
alone, which our Job rows then undo or refuse (a requeued failed job is skipped by the
runner, a deleted pending job is queued again by the reconciliation). Here every page needs
`django_rq.admin`, every action also `jobs.change_job`, and each action goes through the
jobs services, so the row and RQ change together:

| dashboard action | what it does |
|---|---|
| Stop (a started job) | cancel: the worker stops the task, the job ends `cancelled` |
| Requeue (a failed job), Requeue All | retry: the job is `pending` again, with its task's retries |
| Delete (a queued or started job), Empty Queue | cancel the job(s) |
| Delete of a finished job, Delete All (failed), Enqueue (deferred) | not offered (below) |

Not offered: a finished job's record is its Job row, deleted by the retention (`docs/jobs.md`),
and our jobs are never deferred.
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import URLPattern, reverse
from django_rq import models as rq_models
from django_rq.admin import QueueAdmin
from django_rq.queues import get_queue_by_index
from django_rq.urls import get_admin_urlpatterns, get_api_urlpatterns
from rq.registry import FailedJobRegistry

from apps.core.exceptions import ApplicationError
from apps.jobs import services
from apps.jobs.models import ACTIVE_STATUSES, Job

VIEW_PERMISSION = "django_rq.admin"
ACT_PERMISSION = "jobs.change_job"
NOT_OFFERED = (
    "Not offered here: a finished job's record is its Job row (Jobs in the admin), kept "
    "until the retention deletes it."
)


def _apply(request: HttpRequest, job_ids: list[str], *, retry: bool = False) -> None:
    """Cancel (or, with `retry`, retry) each job through the services; say what happened."""
    done, refused = 0, []
    for job in Job.objects.filter(pk__in=[job_id for job_id in job_ids if job_id]):
        try:
            if retry:
                services.job_retry(job=job)
            elif job.status in ACTIVE_STATUSES:
                services.job_cancel(job=job)
            else:
                refused.append(f"{job.id} is {job.status}. {NOT_OFFERED}")
                continue
            done += 1
        except ApplicationError as exc:
            refused.append(f"{job.id}: {exc.message}")
    if done:
        verb = "Queued again" if retry else "Cancelled (or asked to stop)"
        messages.success(request, f"{verb}: {done} job(s), through their Job rows.")
    for message in refused:
        messages.error(request, message)


def _back(request: HttpRequest, queue_index: int, job_id: str | None = None) -> HttpResponse:
    if job_id and Job.objects.filter(pk=job_id).exists():
        return redirect("admin:jobs_job_change", job_id)
    return redirect(reverse("admin:django_rq_jobs", args=[queue_index]))


# The POST of each action (a GET still shows django-rq's own confirmation page).


def stop_job(request: HttpRequest, queue_index: int, job_id: str) -> HttpResponse:
    _apply(request, [job_id])
    return _back(request, queue_index, job_id)


def requeue_job(request: HttpRequest, queue_index: int, job_id: str) -> HttpResponse:
    _apply(request, [job_id], retry=True)
    return _back(request, queue_index, job_id)


def delete_job(request: HttpRequest, queue_index: int, job_id: str) -> HttpResponse:
    _apply(request, [job_id])
    return _back(request, queue_index, job_id)


def clear_queue(request: HttpRequest, queue_index: int) -> HttpResponse:
    """ "Empty Queue": cancel every job waiting in it."""
    _apply(request, get_queue_by_index(queue_index).get_job_ids())
    return _back(request, queue_index)


def requeue_all(request: HttpRequest, queue_index: int) -> HttpResponse:
    queue = get_queue_by_index(queue_index)
    _apply(request, FailedJobRegistry(queue=queue).get_job_ids(), retry=True)
    return _back(request, queue_index)


def bulk_actions(request: HttpRequest, queue_index: int) -> HttpResponse:
    job_ids = request.POST.getlist("job_ids")
    if request.POST.get("action") == "requeue":
        _apply(request, job_ids, retry=True)
    elif request.POST.get("action") in ("delete", "stop"):
        _apply(request, job_ids)
    back = request.POST.get("next_url") or reverse("admin:django_rq_jobs", args=[queue_index])
    return redirect(back) if back.startswith("/") and not back.startswith("//") else redirect("/")


def not_offered(request: HttpRequest, queue_index: int, job_id: str | None = None) -> HttpResponse:
    messages.error(request, NOT_OFFERED)
    return _back(request, queue_index, job_id)


def _on_post(
    original: Callable[..., HttpResponse], action: Callable[..., HttpResponse]
) -> Callable[..., HttpResponse]:
    """django-rq's view for a GET (its confirmation page), ours for the POST."""

    @wraps(original)
    def view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "POST" or action is not_offered:
            return action(request, *args, **kwargs)
        return original(request, *args, **kwargs)

    return view


# django-rq's URL names whose views are replaced, and by what.
REPLACED: dict[str, Callable[..., HttpResponse]] = {
    "django_rq_stop_job": stop_job,
    "django_rq_requeue_job": requeue_job,
    "django_rq_delete_job": delete_job,
    "django_rq_clear": clear_queue,
    "django_rq_requeue_all": requeue_all,
    "django_rq_actions": bulk_actions,
    "django_rq_delete_failed_jobs": not_offered,
    "django_rq_enqueue_job": not_offered,
}


def gated(view: Callable[..., HttpResponse], *, acts: bool) -> Callable[..., HttpResponse]:
    """Refuse anyone without the dashboard's permission (and, for an action, the jobs'
    change permission): a login page for the anonymous, 403 for the rest."""

    @wraps(view)
    def check(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not (user.is_active and user.is_staff):
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        if not user.has_perm(VIEW_PERMISSION) or (acts and not user.has_perm(ACT_PERMISSION)):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return check


class DashboardAdmin(QueueAdmin):
    """django-rq's dashboard, with every page gated and every action on Job rows."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.has_perm(VIEW_PERMISSION)

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        return gated(super().changelist_view, acts=False)(request, extra_context)

    def get_urls(self) -> list[URLPattern]:
        def wrap(view: Callable[..., HttpResponse], *, acts: bool) -> Callable[..., HttpResponse]:
            checked = gated(view, acts=acts)

            @wraps(view)
            def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
                request.current_app = self.admin_site.name
                return self.admin_site.admin_view(checked)(request, *args, **kwargs)

            return wrapper

        patterns = []
        for pattern in get_api_urlpatterns(name_prefix="django_rq_") + get_admin_urlpatterns(
            name_prefix="django_rq_"
        ):
            replaced = REPLACED.get(pattern.name or "")
            view = _on_post(pattern.callback, replaced) if replaced else pattern.callback
            pattern.callback = wrap(view, acts=replaced is not None)
            patterns.append(pattern)
        return patterns + super(QueueAdmin, self).get_urls()


def install() -> None:
    """Put this admin in the place of django-rq's own."""
    if admin.site.is_registered(rq_models.Dashboard):
        admin.site.unregister(rq_models.Dashboard)
    admin.site.register(rq_models.Dashboard, DashboardAdmin)
