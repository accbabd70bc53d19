"""Register, login, refresh and logout (docs/api.md, "Accounts" and "Errors")."""

import pytest
from django.conf import settings
from django.contrib.auth.hashers import identify_hasher

from apps.users.models import Preferences, User

pytestmark = pytest.mark.django_db

STRONG = "quiet-Harbor-Tulip-97"


def error_of(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == code
    return body["error"]


def fields_of(error: dict) -> set:
    return {detail["field"] for detail in error["details"]}


def assert_token_answer(data: dict) -> None:
    assert data["token_type"] == "bearer"
    assert data["access_token"] and data["refresh_token"]
    assert data["expires_in"] == settings.ACCESS_TOKEN_EXPIRE_MINUTES * 60


def register(client, **body):
    return client.post("/api/v1/auth/register", body, format="json")


def login(client, email, password):
    return client.post("/api/v1/auth/login", {"email": email, "password": password}, format="json")


def test_register_creates_account_and_answers_tokens(api_client):
    response = register(api_client, email="New@Example.com", password=STRONG, display_name="New")
    assert response.status_code == 201
    data = response.json()["data"]
    assert_token_answer(data)
    assert data["user"]["email"] == "new@example.com"
    assert data["user"]["display_name"] == "New"
    assert data["user"]["preferences"]["theme"] == "system"
    user = User.objects.get(email="new@example.com")
    assert Preferences.objects.filter(user=user).exists()


def test_register_stores_password_hashed_with_argon2(api_client):
    register(api_client, email="hash@example.com", password=STRONG)
    user = User.objects.get(email="hash@example.com")
    assert STRONG not in user.password
    assert identify_hasher(user.password).algorithm == "argon2"
    assert user.check_password(STRONG)


def test_register_token_works_at_once(api_client):
    data = register(api_client, email="quick@example.com", password=STRONG).json()["data"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {data['access_token']}")
    assert api_client.get("/api/v1/users/me").json()["data"]["email"] == "quick@example.com"


@pytest.mark.parametrize("email", ["ann@example.com", "ANN@Example.COM", " ann@example.com "])
def test_register_with_taken_email_in_any_case_is_conflict(api_client, user, email):
    error = error_of(register(api_client, email=email, password=STRONG), 409, "CONFLICT")
    assert fields_of(error) == {"email"}
    assert User.objects.count() == 1


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short1", "too short"),
        ("password123", "too common"),
        ("8302948561237", "entirely numeric"),
        ("newperson@example", "too similar"),
    ],
)
def test_register_rejects_weak_passwords_with_the_validators_reason(api_client, password, reason):
    response = register(api_client, email="newperson@example.com", password=password)
    error = error_of(response, 400, "VALIDATION_ERROR")
    assert fields_of(error) == {"password"}
    assert any(reason in detail["message"] for detail in error["details"])
    assert not User.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"password": STRONG}, "email"),
        ({"email": "not-an-email", "password": STRONG}, "email"),
        ({"email": "a@example.com"}, "password"),
        ({"email": "a@example.com", "password": STRONG, "display_name": "x" * 101}, "display_name"),
    ],
)
def test_register_names_the_bad_field(api_client, body, field):
    error = error_of(register(api_client, **body), 400, "VALIDATION_ERROR")
    assert field in fields_of(error)


def test_login_answers_user_and_tokens(api_client, user, user_password):
    response = login(api_client, "ANN@example.com", user_password)
    assert response.status_code == 200
    data = response.json()["data"]
    assert_token_answer(data)
    assert data["user"]["id"] == str(user.pk)
    user.refresh_from_db()
    assert user.last_login is not None


def test_wrong_password_and_unknown_email_get_the_same_answer(api_client, user, user_password):
    wrong_password = error_of(
        login(api_client, "ann@example.com", "not-" + user_password), 401, "INVALID_CREDENTIALS"
    )
    unknown_email = error_of(
        login(api_client, "nobody@example.com", user_password), 401, "INVALID_CREDENTIALS"
    )
    assert wrong_password["message"] == unknown_email["message"]
    assert wrong_password["details"] == unknown_email["details"] == []


def test_inactive_account_cannot_log_in(api_client, user, user_password):
    user.is_active = False
    user.save()
    error_of(login(api_client, "ann@example.com", user_password), 401, "INVALID_CREDENTIALS")


def test_login_failure_carries_bearer_challenge(api_client, user):
    response = login(api_client, "ann@example.com", "wrong-password-1")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("body", "field"),
    [({"password": "x"}, "email"), ({"email": "ann@example.com"}, "password")],
)
def test_login_with_missing_field_is_validation_error(api_client, body, field):
    error = error_of(
        api_client.post("/api/v1/auth/login", body, format="json"), 400, "VALIDATION_ERROR"
    )
    assert fields_of(error) == {field}


def test_login_ignores_a_stale_bearer_token(api_client, user, user_password):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert login(api_client, "ann@example.com", user_password).status_code == 200


def test_refresh_rotates_and_the_used_token_stops_working(api_client, user, user_password):
    first = login(api_client, "ann@example.com", user_password).json()["data"]
    response = api_client.post(
        "/api/v1/auth/refresh", {"refresh_token": first["refresh_token"]}, format="json"
    )
    assert response.status_code == 200
    second = response.json()["data"]
    assert_token_answer(second)
    assert "user" not in second
    assert second["refresh_token"] != first["refresh_token"]

    again = api_client.post(
        "/api/v1/auth/refresh", {"refresh_token": first["refresh_token"]}, format="json"
    )
    error_of(again, 401, "INVALID_TOKEN")

    newest = api_client.post(
        "/api/v1/auth/refresh", {"refresh_token": second["refresh_token"]}, format="json"
    )
    assert newest.status_code == 200
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {second['access_token']}")
    assert api_client.get("/api/v1/users/me").status_code == 200


@pytest.mark.parametrize(
    "token",
    ["garbage", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCJ9.AAAA"],
)
def test_refresh_with_a_bad_token_is_invalid_token(api_client, token):
    response = api_client.post("/api/v1/auth/refresh", {"refresh_token": token}, format="json")
    error_of(response, 401, "INVALID_TOKEN")


def test_refresh_with_an_access_token_is_invalid_token(api_client, user, user_password):
    tokens = login(api_client, "ann@example.com", user_password).json()["data"]
    response = api_client.post(
        "/api/v1/auth/refresh", {"refresh_token": tokens["access_token"]}, format="json"
    )
    assert "wrong type" in error_of(response, 401, "INVALID_TOKEN")["message"]


def test_refresh_for_a_deactivated_user_is_invalid_token(api_client, user, user_password):
    tokens = login(api_client, "ann@example.com", user_password).json()["data"]
    User.objects.filter(pk=user.pk).update(is_active=False)
    response = api_client.post(
        "/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}, format="json"
    )
    error_of(response, 401, "INVALID_TOKEN")


def test_refresh_without_token_is_validation_error(api_client):
    error = error_of(
        api_client.post("/api/v1/auth/refresh", {}, format="json"), 400, "VALIDATION_ERROR"
    )
    assert fields_of(error) == {"refresh_token"}


def test_logout_revokes_the_refresh_token(api_client, user, user_password):
    tokens = login(api_client, "ann@example.com", user_password).json()["data"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    response = api_client.post(
        "/api/v1/auth/logout", {"refresh_token": tokens["refresh_token"]}, format="json"
    )
    assert response.status_code == 204
    assert response.content == b""
    refused = api_client.post(
        "/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}, format="json"
    )
    error_of(refused, 401, "INVALID_TOKEN")


def test_logout_twice_with_one_token_is_invalid_token(api_client, user, user_password):
    tokens = login(api_client, "ann@example.com", user_password).json()["data"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    body = {"refresh_token": tokens["refresh_token"]}
    assert api_client.post("/api/v1/auth/logout", body, format="json").status_code == 204
    error_of(api_client.post("/api/v1/auth/logout", body, format="json"), 401, "INVALID_TOKEN")


def test_logout_cannot_revoke_another_users_token(
    api_client, client_for, user, other_user, user_password
):
    bobs = login(api_client, "bob@example.com", user_password).json()["data"]
    response = client_for(user).post(
        "/api/v1/auth/logout", {"refresh_token": bobs["refresh_token"]}, format="json"
    )
    error_of(response, 401, "INVALID_TOKEN")
    still_valid = api_client.post(
        "/api/v1/auth/refresh", {"refresh_token": bobs["refresh_token"]}, format="json"
    )
    assert still_valid.status_code == 200


def test_logout_needs_a_bearer_token(api_client):
    response = api_client.post("/api/v1/auth/logout", {"refresh_token": "x"}, format="json")
    error_of(response, 401, "NOT_AUTHENTICATED")


def test_logout_without_refresh_token_is_validation_error(auth_client):
    error = error_of(
        auth_client.post("/api/v1/auth/logout", {}, format="json"), 400, "VALIDATION_ERROR"
    )
    assert fields_of(error) == {"refresh_token"}


@pytest.mark.parametrize("slash", ["", "/"])
def test_auth_paths_work_with_and_without_trailing_slash(api_client, user, user_password, slash):
    response = api_client.post(
        "/api/v1/auth/login" + slash,
        {"email": "ann@example.com", "password": user_password},
        format="json",
    )
    assert response.status_code == 200
