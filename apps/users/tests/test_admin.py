"""The users admin: staff only, search by email and names, preferences inline."""

import pytest
from django.test import Client

from apps.users.models import Preferences, User

pytestmark = pytest.mark.django_db


def test_user_admin_pages_open(staff_client, user):
    for url in (
        "/admin/",
        "/admin/users/user/",
        "/admin/users/user/add/",
        f"/admin/users/user/{user.pk}/change/",
        f"/admin/users/user/{user.pk}/password/",
    ):
        assert staff_client.get(url).status_code == 200, url


def test_change_page_shows_preferences_inline(staff_client, user):
    content = staff_client.get(f"/admin/users/user/{user.pk}/change/").content.decode()
    assert "preferences-0-theme" in content


@pytest.mark.parametrize("term", ["ann@", "ANN", "Lee", "Annie"])
def test_search_by_email_and_names(staff_client, user, other_user, term):
    user.first_name, user.last_name = "Annie", "Lee"
    user.save()
    content = staff_client.get("/admin/users/user/", {"q": term}).content.decode()
    assert "ann@example.com" in content
    assert "bob@example.com" not in content


def test_add_user_stores_lowercase_email_and_creates_preferences(staff_client):
    response = staff_client.post(
        "/admin/users/user/add/",
        {
            "email": "Carol@Example.com",
            "display_name": "Carol",
            "usable_password": "true",
            "password1": "Sturdy-Passw0rd-99",
            "password2": "Sturdy-Passw0rd-99",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    carol = User.objects.get(email="carol@example.com")
    assert carol.check_password("Sturdy-Passw0rd-99")
    assert Preferences.objects.filter(user=carol).exists()


def test_add_user_with_taken_email_in_another_case_is_refused(staff_client, user):
    response = staff_client.post(
        "/admin/users/user/add/",
        {
            "email": "ANN@example.com",
            "usable_password": "true",
            "password1": "Sturdy-Passw0rd-99",
            "password2": "Sturdy-Passw0rd-99",
        },
    )
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert User.objects.filter(email__iexact="ann@example.com").count() == 1


def test_non_staff_cannot_open_the_admin(user):
    client = Client()
    client.force_login(user)
    response = client.get("/admin/users/user/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
