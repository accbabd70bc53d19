"""Every page of the console opens for staff: the index, each app's index, each registered
model's list, add, change, history and delete pages, and every page of the queues dashboard
the index leads to.

Models come from the admin's registry, so a model registered later is walked too; model_bakery
fills in an object of it (give it a recipe if its constraints need particular values).
"""

import html
import re
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.admin import ModelAdmin
from django.db.models import Model
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import reverse
from model_bakery import baker

from apps.core.redis_clients import queue_redis
from apps.jobs.engine import enqueue
from apps.jobs.worker import TankaWorker

REGISTERED = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)
HREF = re.compile(r"""href\s*=\s*["']([^"'#]+)["']""")


def admin_url(model: type[Model], page: str, *args: Any) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{page}", args=args)


def links(response: HttpResponse) -> list[str]:
    if not response["Content-Type"].startswith("text/html"):
        return []
    return [html.unescape(href) for href in HREF.findall(response.content.decode())]


def expected(allowed: bool) -> int:
    """200 where the admin lets staff in, else its 403: no page may crash."""
    return 200 if allowed else 403


def test_the_site_wide_pages_open_for_staff(staff_client):
    apps = sorted({model._meta.app_label for model in admin.site._registry})
    pages = [reverse("admin:index"), reverse("admin:password_change")]
    pages += [reverse("admin:app_list", args=[app]) for app in apps]
    for page in pages:
        assert staff_client.get(page).status_code == 200, page


@pytest.mark.parametrize(
    ("model", "model_admin"), REGISTERED, ids=[model._meta.label for model, _ in REGISTERED]
)
def test_every_page_of_each_registered_model_opens_for_staff(
    staff_client, staff_user, model: type[Model], model_admin: ModelAdmin
):
    request = RequestFactory().get("/admin/")
    request.user = staff_user
    # An unmanaged model has no table to hold an object (django-rq's dashboard is one).
    obj = baker.make(model) if model._meta.managed else None

    changelist = staff_client.get(admin_url(model, "changelist"))
    assert changelist.status_code == 200
    add = staff_client.get(admin_url(model, "add"))
    assert add.status_code == expected(model_admin.has_add_permission(request))
    if obj is None:
        return
    pages = {
        "change": model_admin.has_view_or_change_permission(request, obj),
        "history": model_admin.has_view_or_change_permission(request, obj),
        "delete": model_admin.has_delete_permission(request, obj),
    }
    for page, allowed in pages.items():
        response = staff_client.get(admin_url(model, page, obj.pk))
        assert response.status_code == expected(allowed), (page, response.status_code)


def test_the_index_and_every_queues_page_it_leads_to_open_for_staff(
    staff_client, staff_user, django_capture_on_commit_callbacks
):
    """A queued job and a live worker, so their own pages are linked and opened too."""
    with django_capture_on_commit_callbacks(execute=True):
        job = enqueue("test", owner=staff_user)
    worker = TankaWorker(["default"], connection=queue_redis())
    worker.register_birth()
    try:
        index = staff_client.get(reverse("admin:index"))
        assert index.status_code == 200
        dashboard = reverse("admin:django_rq_dashboard_changelist")
        to_open = [href for href in links(index) if href.startswith(dashboard)]
        assert to_open, "the admin index does not link the queues dashboard"
        opened: set[str] = set()
        while to_open:
            url = to_open.pop()
            if url in opened:
                continue
            opened.add(url)
            # An action the console does not offer sends staff back with a message: followed.
            response = staff_client.get(url, follow=True)
            assert response.status_code == 200, url
            assert "/admin/login/" not in response.request["PATH_INFO"], url
            to_open += [href for href in links(response) if href.startswith(dashboard)]
    finally:
        worker.register_death()

    assert any(str(job.id) in url for url in opened), "no page of the queued job was opened"
    assert any(worker.name in url for url in opened), "no page of the worker was opened"
