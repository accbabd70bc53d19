"""The token's user is cached between requests, and a change to the user is seen at once:
on the next request after it commits, even when a concurrent request read the user while the
change was being written."""

import threading

import orjson
import pytest
import redis
from django.conf import settings
from django.db import connection, transaction
from django.db.models.signals import post_save

from apps.users.models import User

LIST = "/api/v1/memories?page=1&per_page=20"

pytestmark = pytest.mark.django_db


def test_a_repeated_cached_read_makes_no_database_query(auth_client, django_assert_num_queries):
    assert auth_client.get(LIST).status_code == 200
    with django_assert_num_queries(0):
        response = auth_client.get(LIST)
    assert response.status_code == 200
    assert response["X-Cache"] == "HIT"


def test_a_deactivated_user_is_refused_on_the_next_request(
    auth_client, user, django_capture_on_commit_callbacks
):
    assert auth_client.get(LIST).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        user.is_active = False
        user.save()

    response = auth_client.get(LIST)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "INVALID_TOKEN"


def test_a_password_change_revokes_a_token_already_seen(
    auth_client, user, django_capture_on_commit_callbacks
):
    assert auth_client.get(LIST).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        user.set_password("a-Different-passw0rd")
        user.save()

    response = auth_client.get(LIST)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "INVALID_TOKEN"


def test_a_deleted_user_is_refused(auth_client, user, django_capture_on_commit_callbacks):
    assert auth_client.get(LIST).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        user.delete()

    assert auth_client.get(LIST).status_code == 401


def test_a_user_read_while_their_deactivation_was_being_written_is_not_kept(
    auth_client, user, django_capture_on_commit_callbacks
):
    """The race, on one connection: `save()` announces the change (post_save), and a
    concurrent request, whose own connection still sees the committed row until the commit,
    misses the cache, reads the user active and caches them. Here that request runs between
    the announcement and the write itself, so it sees the active row on any database."""
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        post_save.send(sender=User, instance=user, created=False, update_fields=None)
        assert auth_client.get(LIST).status_code == 200
        User.objects.filter(pk=user.pk).update(is_active=False)

    response = auth_client.get(LIST)
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "User is inactive"


@pytest.mark.django_db(transaction=True)
def test_a_request_racing_a_deactivation_on_another_connection_does_not_keep_the_user(
    user, client_for
):
    """The same race with two real connections: a request in another thread reads the user
    while the deactivation is written but not committed."""
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs a second connection that reads the committed row beside an open write; "
            "SQLite's shared in-memory test database locks the table instead"
        )
    client = client_for(user)
    statuses = []

    def concurrent_request() -> None:
        try:
            statuses.append(client.get(LIST).status_code)
        finally:
            connection.close()

    with transaction.atomic():
        user.is_active = False
        user.save()
        reader = threading.Thread(target=concurrent_request)
        reader.start()
        reader.join(30)
    assert statuses == [200]

    assert client.get(LIST).status_code == 401


def test_the_cached_user_holds_no_password_hash_and_no_pickle(auth_client, user):
    assert auth_client.get(LIST).status_code == 200
    cache = redis.Redis.from_url(settings.REDIS_CACHE_URL)
    keys = cache.keys("tanka:token-user:*")
    assert len(keys) == 1
    generation, _, payload = cache.get(keys[0]).partition(b":")
    entry = orjson.loads(payload)
    assert entry["id"] == str(user.pk)
    assert entry["is_active"] is True
    assert user.password.encode() not in payload
    assert b"argon2" not in payload
    assert "password" not in entry


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
