"""The pages people open in a browser say whose they are and which deployment they belong to."""

import re

import pytest


def badge(html: str) -> str:
    found = re.search(r'class="environment-badge[^"]*"[^>]*>([^<]+)<', html)
    assert found, "no environment badge on the page"
    return found[1]


@pytest.mark.parametrize("environment", ["development", "staging", "production"])
def test_console_and_browsable_api_wear_the_environment_badge(staff_client, settings, environment):
    settings.ENVIRONMENT = environment
    console = staff_client.get("/admin/").content.decode()
    api = staff_client.get("/api/v1/", HTTP_ACCEPT="text/html").content.decode()
    assert badge(console) == badge(api) == environment


@pytest.mark.django_db
@pytest.mark.parametrize(("page", "name"), [("/admin/login/", "Tanka console"),
                                            ("/api-auth/login/", "Tanka Core API")])  # fmt: skip
def test_login_pages_carry_tankas_name(client, page, name):
    html = client.get(page).content.decode()
    assert name in html
    assert "Django administration" not in html and "Django REST framework" not in html
