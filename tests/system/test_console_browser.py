"""The pages people open in a browser, as headless Chromium shows them: the admin as Tanka's
console, the browsable API, and the error pages outside the API. None of them fetches
anything from outside the server."""

from urllib.parse import urlsplit

import pytest

from tests.system.browser import Browser

pytestmark = [pytest.mark.system, pytest.mark.urls("tests.system.console_urls")]

PRODUCTION_RED = "rgb(198, 40, 40)"


def badge(browser: Browser) -> tuple[str, str]:
    """The environment badge's text and background colour, as the page shows them."""
    return tuple(browser.evaluate(
        "(b => [b.textContent.trim(), getComputedStyle(b).backgroundColor])"
        "(document.querySelector('.environment-badge'))"
    ))  # fmt: skip


def assert_self_contained(browser: Browser) -> None:
    requested = browser.requested()
    origin = urlsplit(browser.evaluate("location.href"))[:2]
    assert requested, "the page reports no request"
    assert [url for url in requested if urlsplit(url)[:2] != origin] == []


def test_admin_index_is_the_tanka_console_with_a_red_production_badge(
    browser, live_server, staff_client, settings
):
    settings.ENVIRONMENT = "production"
    browser.set_cookie(live_server.url, "sessionid", staff_client.cookies["sessionid"].value)
    browser.open(f"{live_server.url}/admin/")

    assert browser.status() == 200
    assert browser.evaluate("document.title") == "Operations | Tanka console"
    assert browser.href("Tanka console") == "/admin/"
    assert "Django administration" not in browser.text("body")
    assert badge(browser) == ("production", PRODUCTION_RED)
    assert browser.href("API docs") == "/docs"
    assert browser.href("Queues") == "/admin/django_rq/dashboard/"
    assert_self_contained(browser)


def test_browsable_api_is_branded_and_links_the_docs(browser, live_server):
    browser.open(f"{live_server.url}/api/v1/")

    assert browser.status() == 200
    assert browser.href("Tanka Core API") == "/api/v1"
    assert "Django REST framework" not in browser.text("body")
    text, colour = badge(browser)
    assert text == "development" and colour != PRODUCTION_RED
    assert browser.href("Swagger UI") == "/docs"
    assert browser.href("ReDoc") == "/redoc"
    assert browser.href("Log in") == "/api-auth/login/?next=/api/v1/"
    assert_self_contained(browser)


def test_unknown_page_outside_the_api_is_a_plain_404_page(browser, live_server):
    browser.open(f"{live_server.url}/no/such/page")

    assert browser.status() == 404
    assert browser.text("h1") == "Page not found"
    assert "/no/such/page" in browser.text("main")
    assert browser.href("the API documentation") == "/docs"
    assert browser.href("the console") == "/admin/"
    assert_self_contained(browser)


def test_crash_outside_the_api_is_a_plain_500_page(browser, live_server):
    browser.open(f"{live_server.url}/test/crash")

    assert browser.status() == 500
    assert browser.text("h1") == "Something went wrong on our side"
    page = browser.evaluate("document.documentElement.outerHTML")
    assert "secret-token" not in page and "RuntimeError" not in page
    assert_self_contained(browser)
