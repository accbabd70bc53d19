"""The caller's profile and preferences (docs/api.md, "Accounts")."""

import pytest

from apps.users.models import Preferences

pytestmark = pytest.mark.django_db

ME = "/api/v1/users/me"
PREFS = "/api/v1/users/me/preferences"


def fields_of(response) -> set:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    return {detail["field"] for detail in error["details"]}


def test_me_shows_profile_with_preferences(auth_client, user):
    data = auth_client.get(ME).json()["data"]
    assert data["id"] == str(user.pk)
    assert data["email"] == "ann@example.com"
    assert data["display_name"] == "Ann"
    assert data["preferences"] == {
        "theme": "system",
        "language": "en",
        "email_notifications": True,
        "push_notifications": True,
        "updated_at": data["preferences"]["updated_at"],
    }
    assert "password" not in data


def test_user_without_preferences_gets_defaults_on_read(auth_client, user):
    Preferences.objects.filter(user=user).delete()
    assert auth_client.get(PREFS).json()["data"]["theme"] == "system"
    assert Preferences.objects.filter(user=user).count() == 1


def test_patch_me_changes_profile_fields(auth_client, user):
    body = {
        "display_name": "Ann Lee",
        "avatar_url": "https://cdn.example.com/ann.png",
        "first_name": "Ann",
        "last_name": "Lee",
    }
    response = auth_client.patch(ME, body, format="json")
    assert response.status_code == 200
    assert {key: response.json()["data"][key] for key in body} == body
    user.refresh_from_db()
    assert user.avatar_url == "https://cdn.example.com/ann.png"
    assert user.last_name == "Lee"


def test_patch_me_with_one_field_leaves_the_others(auth_client, user):
    auth_client.patch(ME, {"first_name": "Annie"}, format="json")
    user.refresh_from_db()
    assert (user.first_name, user.display_name) == ("Annie", "Ann")


@pytest.mark.parametrize(
    "url", ["not a url", "ftp://example.com/a.png", "javascript:alert(1)", "http://"]
)
def test_avatar_must_be_an_http_url(auth_client, url):
    assert fields_of(auth_client.patch(ME, {"avatar_url": url}, format="json")) == {"avatar_url"}


def test_avatar_can_be_cleared(auth_client, user):
    user.avatar_url = "https://example.com/a.png"
    user.save()
    assert auth_client.patch(ME, {"avatar_url": ""}, format="json").status_code == 200
    user.refresh_from_db()
    assert user.avatar_url == ""


def test_display_name_too_long_is_rejected(auth_client):
    assert fields_of(auth_client.patch(ME, {"display_name": "x" * 101}, format="json")) == {
        "display_name"
    }


@pytest.mark.parametrize(
    "body",
    [
        {"email": "evil@example.com"},
        {"password": "new-Password-123"},
        {"is_staff": True},
        {"is_superuser": True},
    ],
)
def test_me_refuses_email_password_and_staff_changes(auth_client, user, body):
    assert fields_of(auth_client.patch(ME, body, format="json")) == set(body)
    user.refresh_from_db()
    assert user.email == "ann@example.com"
    assert not user.is_staff and not user.is_superuser
    assert user.check_password("orchid-Lantern-42")


def test_me_does_not_allow_put_or_delete(auth_client):
    assert auth_client.put(ME, {}, format="json").status_code == 405
    assert auth_client.delete(ME).status_code == 405


def test_patch_preferences(auth_client, user):
    body = {"theme": "dark", "language": "pt-BR", "email_notifications": False}
    response = auth_client.patch(PREFS, body, format="json")
    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["theme"], data["language"], data["email_notifications"]) == (
        "dark",
        "pt-BR",
        False,
    )
    assert data["push_notifications"] is True
    assert auth_client.get(ME).json()["data"]["preferences"]["theme"] == "dark"


def test_language_is_matched_in_any_case_and_stored_as_configured(auth_client):
    response = auth_client.patch(PREFS, {"language": "zh-tw"}, format="json")
    assert response.json()["data"]["language"] == "zh-TW"


def test_bad_theme_is_rejected(auth_client):
    assert fields_of(auth_client.patch(PREFS, {"theme": "neon"}, format="json")) == {"theme"}


@pytest.mark.parametrize("language", ["xx", "en_US", "klingon", ""])
def test_unknown_language_is_rejected(auth_client, language):
    response = auth_client.patch(PREFS, {"language": language}, format="json")
    assert fields_of(response) == {"language"}


def test_language_list_comes_from_settings(auth_client, settings):
    settings.LANGUAGES = [("en", "en"), ("sv", "sv")]
    assert auth_client.patch(PREFS, {"language": "sv"}, format="json").status_code == 200
    assert fields_of(auth_client.patch(PREFS, {"language": "ja"}, format="json")) == {"language"}


def test_notification_flags_must_be_booleans(auth_client):
    response = auth_client.patch(PREFS, {"push_notifications": "sometimes"}, format="json")
    assert fields_of(response) == {"push_notifications"}


def test_preferences_are_per_user(auth_client, client_for, other_user):
    auth_client.patch(PREFS, {"theme": "light"}, format="json")
    assert client_for(other_user).get(PREFS).json()["data"]["theme"] == "system"
