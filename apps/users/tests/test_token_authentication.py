"""Every kind of bad credential is a 401 with the right code and a Bearer challenge
(docs/api.md, "Errors")."""

from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

pytestmark = pytest.mark.django_db

ME = "/api/v1/users/me"


def get_me(token: str, scheme: str = "Bearer"):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{scheme} {token}")
    return client.get(ME)


def assert_401(response, code: str) -> str:
    assert response.status_code == 401, response.content
    assert response["WWW-Authenticate"].startswith("Bearer")
    error = response.json()["error"]
    assert error["code"] == code
    return error["message"]


def test_valid_token_authenticates(user):
    response = get_me(str(AccessToken.for_user(user)))
    assert response.status_code == 200
    assert response.json()["data"]["id"] == str(user.pk)


def test_scheme_name_is_case_insensitive(user):
    assert get_me(str(AccessToken.for_user(user)), scheme="bearer").status_code == 200


def test_no_token_is_not_authenticated(api_client):
    assert_401(api_client.get(ME), "NOT_AUTHENTICATED")


def test_tampered_token_is_invalid(user, other_user):
    header, payload, signature = str(AccessToken.for_user(user)).split(".")
    forged_payload = str(AccessToken.for_user(other_user)).split(".")[1]
    assert_401(get_me(f"{header}.{forged_payload}.{signature}"), "INVALID_TOKEN")


def test_token_signed_with_another_key_is_invalid(user):
    token = AccessToken.for_user(user)
    forged = jwt.encode(token.payload, "some-other-secret-key-of-32-bytes!!", algorithm="HS256")
    assert_401(get_me(forged), "INVALID_TOKEN")


def test_token_signed_with_secret_key_instead_of_jwt_secret_key_is_invalid(user):
    assert settings.SECRET_KEY != settings.JWT_SECRET_KEY
    token = AccessToken.for_user(user)
    forged = jwt.encode(token.payload, settings.SECRET_KEY, algorithm="HS256")
    assert_401(get_me(forged), "INVALID_TOKEN")


def test_expired_token_is_invalid(user):
    token = AccessToken.for_user(user)
    token.set_exp(from_time=timezone.now() - timedelta(hours=2))
    assert "expired" in assert_401(get_me(str(token)), "INVALID_TOKEN")


def test_refresh_token_used_as_access_token_is_invalid(user):
    message = assert_401(get_me(str(RefreshToken.for_user(user))), "INVALID_TOKEN")
    assert "wrong type" in message


def test_token_of_inactive_user_is_invalid(user):
    token = str(AccessToken.for_user(user))
    user.is_active = False
    user.save()
    assert "inactive" in assert_401(get_me(token), "INVALID_TOKEN")


def test_token_of_deleted_user_is_invalid(user):
    token = str(AccessToken.for_user(user))
    user.delete()
    assert_401(get_me(token), "INVALID_TOKEN")


def test_password_change_revokes_earlier_tokens(user):
    token = str(AccessToken.for_user(user))
    user.set_password("a-brand-New-password-7")
    user.save()
    assert_401(get_me(token), "INVALID_TOKEN")
    assert get_me(str(AccessToken.for_user(user))).status_code == 200


@pytest.mark.parametrize("header", ["Bearer", "Bearer a b", "Bearer not.a.jwt"])
def test_malformed_bearer_header_is_invalid(api_client, header):
    api_client.credentials(HTTP_AUTHORIZATION=header)
    assert_401(api_client.get(ME), "INVALID_TOKEN")


def test_other_schemes_are_not_credentials(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Basic YW5uOnB3")
    assert_401(api_client.get(ME), "NOT_AUTHENTICATED")


def test_session_login_works_for_the_browsable_api(user, user_password):
    client = APIClient()
    assert client.login(email="ann@example.com", password=user_password)
    response = client.get(ME, HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert b"ann@example.com" in response.content


def test_session_writes_need_csrf(user, user_password):
    client = APIClient(enforce_csrf_checks=True)
    client.login(email="ann@example.com", password=user_password)
    response = client.patch(ME, {"display_name": "Sneaky"}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "PERMISSION_DENIED"
    user.refresh_from_db()
    assert user.display_name == "Ann"


def test_bearer_writes_need_no_csrf(user):
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    assert client.patch(ME, {"display_name": "Ann B"}, format="json").status_code == 200


def test_browsable_api_links_to_the_login_page(api_client):
    response = api_client.get("/api/v1/info", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert b"/api-auth/login/" in response.content
