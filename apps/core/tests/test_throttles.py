"""Rate limits (docs/api.md, "Headers" and "Rate limits"): counted per user, per IP, per login
email; headers on every throttled answer; refused before credentials are checked; never in the
way when Redis is down."""

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

ME = "/api/v1/users/me"
INFO = "/api/v1/info"


def assert_429(response) -> None:
    assert response.status_code == 429, response.content
    assert response.json()["error"]["code"] == "RATE_LIMITED"
    assert 1 <= int(response["Retry-After"]) <= 60
    assert response["X-RateLimit-Remaining"] == "0"


def test_user_limit_counts_down_then_refuses(auth_client, settings):
    settings.RATE_LIMIT_PER_MINUTE = 2
    first, second, third = (auth_client.get(ME) for _ in range(3))
    assert (first.status_code, second.status_code) == (200, 200)
    assert (first["X-RateLimit-Limit"], first["X-RateLimit-Remaining"]) == ("2", "1")
    assert (second["X-RateLimit-Limit"], second["X-RateLimit-Remaining"]) == ("2", "0")
    assert_429(third)
    assert third["X-RateLimit-Limit"] == "2"


def test_each_user_has_their_own_budget(auth_client, client_for, other_user, settings):
    settings.RATE_LIMIT_PER_MINUTE = 1
    assert auth_client.get(ME).status_code == 200
    assert_429(auth_client.get(ME))
    assert client_for(other_user).get(ME).status_code == 200


def test_authenticated_users_are_not_held_to_the_anonymous_limit(auth_client, settings):
    settings.RATE_LIMIT_ANON_PER_MINUTE = 1
    settings.RATE_LIMIT_PER_MINUTE = 5
    assert [auth_client.get(ME).status_code for _ in range(3)] == [200, 200, 200]


def test_anonymous_limit_is_per_ip(settings):
    settings.RATE_LIMIT_ANON_PER_MINUTE = 2
    client = APIClient()
    assert [client.get(INFO).status_code for _ in range(2)] == [200, 200]
    assert_429(client.get(INFO))
    assert client.get(INFO, REMOTE_ADDR="10.0.0.9").status_code == 200


def test_over_limit_request_with_bad_token_gets_429_not_401(settings):
    settings.RATE_LIMIT_ANON_PER_MINUTE = 2
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer forged.token.value")
    assert [client.get(ME).status_code for _ in range(2)] == [401, 401]
    assert_429(client.get(ME))


def test_over_limit_anonymous_request_gets_429_not_401(settings):
    settings.RATE_LIMIT_ANON_PER_MINUTE = 1
    client = APIClient()
    assert client.get(ME).status_code == 401
    assert_429(client.get(ME))


def test_login_is_limited_per_ip_and_email(api_client, user, settings):
    settings.RATE_LIMIT_LOGIN_PER_MINUTE = 2

    def attempt(email):
        return api_client.post(
            "/api/v1/auth/login", {"email": email, "password": "guess-123"}, format="json"
        )

    assert [attempt("ann@example.com").status_code for _ in range(2)] == [401, 401]
    assert_429(attempt("ANN@example.com"))
    assert attempt("bob@example.com").status_code == 401


def test_register_is_limited_per_ip(api_client, settings):
    settings.RATE_LIMIT_REGISTER_PER_MINUTE = 1
    body = {"email": "one@example.com", "password": "quiet-Harbor-Tulip-97"}
    assert api_client.post("/api/v1/auth/register", body, format="json").status_code == 201
    body["email"] = "two@example.com"
    assert_429(api_client.post("/api/v1/auth/register", body, format="json"))


@pytest.mark.urls("apps.core.tests.throttle_urls")
def test_job_creation_has_its_own_per_user_limit(auth_client, client_for, other_user, settings):
    settings.RATE_LIMIT_JOBS_PER_MINUTE = 1
    settings.RATE_LIMIT_PER_MINUTE = 100
    first = auth_client.post("/api/v1/test/jobs")
    assert first.status_code == 202
    assert (first["X-RateLimit-Limit"], first["X-RateLimit-Remaining"]) == ("1", "0")
    assert_429(auth_client.post("/api/v1/test/jobs"))
    assert auth_client.get(ME).status_code == 200
    assert client_for(other_user).post("/api/v1/test/jobs").status_code == 202


@pytest.mark.parametrize(
    "path", ["/health", "/health/live", "/health/ready", "/docs", "/redoc", "/api/v1/openapi.json"]
)
def test_health_docs_and_schema_are_never_throttled(api_client, settings, path):
    settings.RATE_LIMIT_ANON_PER_MINUTE = 1
    for _ in range(3):
        response = api_client.get(path)
        assert response.status_code in (200, 503)
        assert "X-RateLimit-Limit" not in response


def test_schema_ignores_a_stale_token(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer expired.or.forged")
    assert api_client.get("/api/v1/openapi.json").status_code == 200


def test_spoofed_forwarded_for_is_ignored_without_trusted_proxies(settings):
    settings.RATE_LIMIT_ANON_PER_MINUTE = 1
    client = APIClient()
    assert client.get(INFO, HTTP_X_FORWARDED_FOR="1.1.1.1").status_code == 200
    assert_429(client.get(INFO, HTTP_X_FORWARDED_FOR="2.2.2.2"))


def test_forwarded_for_is_used_through_trusted_proxies(settings):
    settings.RATE_LIMIT_ANON_PER_MINUTE = 1
    rest = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    client = APIClient()
    with override_settings(REST_FRAMEWORK=rest):
        # The proxy appends the address it saw; whatever the client wrote before it is ignored.
        assert client.get(INFO, HTTP_X_FORWARDED_FOR="9.9.9.9, 1.1.1.1").status_code == 200
        assert client.get(INFO, HTTP_X_FORWARDED_FOR="9.9.9.9, 2.2.2.2").status_code == 200
        assert_429(client.get(INFO, HTTP_X_FORWARDED_FOR="8.8.8.8, 1.1.1.1"))


def test_a_limit_of_zero_turns_that_limit_off(auth_client, settings):
    settings.RATE_LIMIT_PER_MINUTE = 0
    responses = [auth_client.get(ME) for _ in range(3)]
    assert all(r.status_code == 200 and "X-RateLimit-Limit" not in r for r in responses)


def test_with_redis_down_requests_are_neither_throttled_nor_failed(
    auth_client, redis_down, settings
):
    settings.RATE_LIMIT_PER_MINUTE = 1
    settings.RATE_LIMIT_ANON_PER_MINUTE = 1
    responses = [auth_client.get(ME) for _ in range(3)]
    responses += [APIClient().get(INFO) for _ in range(3)]
    assert [r.status_code for r in responses] == [200] * 6
    # Nothing was counted: the limits are unknown, so no headers claim one.
    assert not any("X-RateLimit-Limit" in r for r in responses)
