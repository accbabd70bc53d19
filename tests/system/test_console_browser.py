"""The pages people open in a browser, as headless Chromium shows them: the admin as Tanka's
console, the browsable API, and the error pages outside the API. None of them fetches
anything from outside the server."""

import pytest

from tests.system.browser import Page, render

pytestmark = [pytest.mark.system, pytest.mark.urls("tests.system.console_urls")]

PRODUCTION_RED = (0xC6, 0x28, 0x28)


def assert_self_contained(page: Page) -> None:
    assert page.requested, "the net log recorded no request of the page"
    assert page.foreign_requests() == []


def test_admin_index_is_the_tanka_console_with_a_red_production_badge(
    chromium, live_server, staff_user, settings, tmp_path
):
    settings.ENVIRONMENT = "production"
    page = render(
        chromium, f"{live_server.url}/test/login-as/{staff_user.pk}?next=/admin/", tmp_path
    )

    assert page.status == 200
    assert page.href("Tanka console") == "/admin/"
    assert "Django administration" not in page.text
    assert "production" in page.text
    assert page.href("API docs") == "/docs"
    assert page.href("Queues") == "/admin/django_rq/dashboard/"
    assert page.pixels_near(PRODUCTION_RED) > 500, "the production badge is not red"
    assert_self_contained(page)


def test_browsable_api_is_branded_and_links_the_docs(chromium, live_server, tmp_path):
    page = render(chromium, f"{live_server.url}/api/v1/", tmp_path)

    assert page.status == 200
    assert page.href("Tanka Core API") == "/api/v1"
    assert "Django REST framework" not in page.text
    assert "development" in page.text
    assert page.href("Swagger UI") == "/docs"
    assert page.href("ReDoc") == "/redoc"
    assert page.href("Log in") == "/api-auth/login/?next=/api/v1/"
    assert page.pixels_near(PRODUCTION_RED) == 0, "development wears production's colour"
    assert_self_contained(page)


def test_unknown_page_outside_the_api_is_a_plain_404_page(chromium, live_server, tmp_path):
    page = render(chromium, f"{live_server.url}/no/such/page", tmp_path)

    assert page.status == 404
    assert "Page not found" in page.text
    assert "/no/such/page" in page.text
    assert page.href("the API documentation") == "/docs"
    assert page.href("the console") == "/admin/"
    assert_self_contained(page)


def test_crash_outside_the_api_is_a_plain_500_page(chromium, live_server, tmp_path):
    page = render(chromium, f"{live_server.url}/test/crash", tmp_path)

    assert page.status == 500
    assert "Something went wrong on our side" in page.text
    assert "secret-token" not in page.dom and "RuntimeError" not in page.dom
    assert_self_contained(page)
