"""The token's user is cached between requests, and a change to the user is seen at once."""

import pytest

LIST = "/api/v1/memories?page=1&per_page=20"

pytestmark = pytest.mark.django_db


def test_a_repeated_cached_read_makes_no_database_query(auth_client, django_assert_num_queries):
    assert auth_client.get(LIST).status_code == 200
    with django_assert_num_queries(0):
        response = auth_client.get(LIST)
    assert response.status_code == 200
    assert response["X-Cache"] == "HIT"


def test_a_deactivated_user_is_refused_on_the_next_request(auth_client, user):
    assert auth_client.get(LIST).status_code == 200
    user.is_active = False
    user.save()

    response = auth_client.get(LIST)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "INVALID_TOKEN"


def test_a_password_change_revokes_a_token_already_seen(auth_client, user):
    assert auth_client.get(LIST).status_code == 200
    user.set_password("a-Different-passw0rd")
    user.save()

    response = auth_client.get(LIST)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "INVALID_TOKEN"


def test_a_deleted_user_is_refused(auth_client, user):
    assert auth_client.get(LIST).status_code == 200
    user.delete()

    assert auth_client.get(LIST).status_code == 401


def test_with_redis_down_the_user_is_read_from_the_database(auth_client, redis_down):
    response = auth_client.get(LIST)
    assert response.status_code == 200
    assert response["X-Cache"] == "BYPASS"


def test_a_token_already_seen_is_refused_once_it_expires(api_client, user, monkeypatch):
    from datetime import timedelta

    from rest_framework_simplejwt.tokens import AccessToken

    from apps.core import authentication

    token = AccessToken.for_user(user)
    token.set_exp(lifetime=timedelta(minutes=5))
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api_client.get(LIST).status_code == 200

    later = authentication.aware_utcnow() + timedelta(minutes=6)
    monkeypatch.setattr(authentication, "aware_utcnow", lambda: later)
    monkeypatch.setattr("rest_framework_simplejwt.tokens.aware_utcnow", lambda: later)
    response = api_client.get(LIST)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "INVALID_TOKEN"
    assert "expired" in response.json()["error"]["message"]
