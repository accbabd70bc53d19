"""Every way to log in with a password is rate limited, before the password is checked: the
API's login, the browsable API's session login and the admin's; per client IP, per client IP
and account, and per account from any address; and refused (503) while the limits cannot be
counted. A refused session login shows its form with the reason, never a redirect."""

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.test import Client
from rest_framework.test import APIClient

from apps.users.models import User

pytestmark = pytest.mark.django_db

API_LOGIN = "/api/v1/auth/login"
LOGINS = [API_LOGIN, "/api-auth/login/", "/admin/login/"]
WRONG = "not-the-Password-1"
# What each login answers to a wrong password and to the right one, when not refused.
WRONG_STATUS = {API_LOGIN: 401, "/api-auth/login/": 200, "/admin/login/": 200}
RIGHT_STATUS = {API_LOGIN: 200, "/api-auth/login/": 302, "/admin/login/": 302}


@pytest.fixture(autouse=True)
def limits(settings):
    """Generous limits; each test lowers the one it is about."""
    settings.RATE_LIMIT_ANON_PER_MINUTE = 100
    settings.RATE_LIMIT_LOGIN_PER_MINUTE = 100
    settings.RATE_LIMIT_LOGIN_ACCOUNT_PER_MINUTE = 100
    settings.RATE_LIMIT_LOGIN_IP_PER_MINUTE = 100
    return settings


@pytest.fixture
def staff(user):
    """`user`, allowed into the admin too, so the right password logs in on every path."""
    user.is_staff = True
    user.save()
    return user


@pytest.fixture
def hashes(monkeypatch):
    """Every password hash computed: checks of a password, and the decoy hash spent on an
    unknown account."""
    computed = []
    for name in ("verify", "encode"):
        original = getattr(Argon2PasswordHasher, name)

        def counted(self, *args, _original=original, _name=name, **kwargs):
            computed.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(Argon2PasswordHasher, name, counted)
    return computed


def log_in(path: str, email: str, password: str, ip: str = "10.0.0.1"):
    if path == API_LOGIN:
        return APIClient().post(
            path, {"email": email, "password": password}, format="json", REMOTE_ADDR=ip
        )
    return Client().post(path, {"username": email, "password": password}, REMOTE_ADDR=ip)


def assert_refused(path: str, response, status: int = 429) -> None:
    assert response.status_code == status, response.content[:500]
    assert "Location" not in response
    if status == 429:
        assert 1 <= int(response["Retry-After"]) <= 60
    if path == API_LOGIN:
        code = "RATE_LIMITED" if status == 429 else "SERVICE_UNAVAILABLE"
        assert response.json()["error"]["code"] == code
    else:
        page = response.content.decode()
        reason = "Too many login attempts" if status == 429 else "Logging in is unavailable"
        assert reason in page
        assert 'name="password"' in page
        assert "Please enter a correct" not in page


@pytest.mark.parametrize("path", LOGINS)
def test_guesses_at_one_account_from_one_address_are_limited(path, staff, limits, user_password):
    limits.RATE_LIMIT_LOGIN_PER_MINUTE = 2
    assert [log_in(path, "ann@example.com", WRONG).status_code for _ in range(2)] == [
        WRONG_STATUS[path]
    ] * 2

    # The right password is refused too: the limit is on attempts, not on failures.
    assert_refused(path, log_in(path, "ANN@example.com", user_password))
    # Another address, or another account from this one, is not held back.
    assert (
        log_in(path, "ann@example.com", user_password, ip="10.0.0.2").status_code
        == (RIGHT_STATUS[path])
    )
    assert log_in(path, "bob@example.com", WRONG).status_code == WRONG_STATUS[path]


@pytest.mark.parametrize("path", LOGINS)
def test_guesses_at_one_account_from_many_addresses_are_limited(path, staff, limits):
    limits.RATE_LIMIT_LOGIN_ACCOUNT_PER_MINUTE = 3
    statuses = [log_in(path, "ann@example.com", WRONG, ip=f"10.0.1.{n}").status_code
                for n in range(3)]  # fmt: skip
    assert statuses == [WRONG_STATUS[path]] * 3

    assert_refused(path, log_in(path, "ann@example.com", WRONG, ip="10.0.1.99"))


@pytest.mark.parametrize("path", LOGINS)
def test_one_address_trying_many_accounts_is_limited(path, limits):
    limits.RATE_LIMIT_LOGIN_IP_PER_MINUTE = 3
    statuses = [log_in(path, f"guess{n}@example.com", WRONG).status_code for n in range(3)]
    assert statuses == [WRONG_STATUS[path]] * 3

    assert_refused(path, log_in(path, "guess99@example.com", WRONG))
    assert (
        log_in(path, "guess99@example.com", WRONG, ip="10.0.0.2").status_code
        == (WRONG_STATUS[path])
    )


@pytest.mark.parametrize("path", LOGINS)
def test_a_refused_login_computes_no_password_hash(path, staff, limits, hashes, user_password):
    limits.RATE_LIMIT_LOGIN_PER_MINUTE = 1
    log_in(path, "ann@example.com", WRONG)
    log_in(path, "nobody@example.com", WRONG, ip="10.0.0.3")
    assert len(hashes) == 2

    assert_refused(path, log_in(path, "ann@example.com", user_password))
    assert_refused(path, log_in(path, "nobody@example.com", WRONG, ip="10.0.0.3"))
    assert len(hashes) == 2


def test_a_spelling_the_database_matches_to_an_account_counts_against_that_account(limits):
    """On PostgreSQL `email__iexact` compares UPPER(): `ſ` (long s) upper-cases to `S`, so
    `ſally@example.com` finds sally's account, and its guesses must use sally's limits.
    (SQLite's case folding is ASCII only: there the spelling finds no account at all.)"""
    limits.RATE_LIMIT_LOGIN_PER_MINUTE = 2
    User.objects.create_user("sally@example.com", "Sally-passw0rd-long")
    finds_sally = User.objects.filter(email__iexact="ſally@example.com").exists()
    assert [log_in(API_LOGIN, "sally@example.com", WRONG).status_code for _ in range(2)] == [
        401,
        401,
    ]

    response = log_in(API_LOGIN, "ſally@example.com", WRONG)
    if finds_sally:
        assert_refused(API_LOGIN, response)
    else:
        assert response.status_code == 401


@pytest.mark.parametrize("path", LOGINS)
def test_with_redis_down_a_login_is_refused_not_let_through(
    path, staff, redis_down, hashes, user_password
):
    assert_refused(path, log_in(path, "ann@example.com", user_password), status=503)
    assert hashes == []


def test_with_the_login_limits_off_redis_down_does_not_stop_logins(
    limits, user, redis_down, user_password
):
    limits.RATE_LIMIT_ANON_PER_MINUTE = 0
    limits.RATE_LIMIT_LOGIN_PER_MINUTE = 0
    limits.RATE_LIMIT_LOGIN_ACCOUNT_PER_MINUTE = 0
    limits.RATE_LIMIT_LOGIN_IP_PER_MINUTE = 0
    assert log_in(API_LOGIN, "ann@example.com", user_password).status_code == 200


def test_the_api_login_reports_the_limit_closest_to_refusing(limits, user):
    limits.RATE_LIMIT_LOGIN_ACCOUNT_PER_MINUTE = 5
    response = log_in(API_LOGIN, "ann@example.com", WRONG)
    assert (response["X-RateLimit-Limit"], response["X-RateLimit-Remaining"]) == ("5", "4")


def test_a_refused_session_login_leaves_the_browser_logged_out(staff, limits, user_password):
    limits.RATE_LIMIT_LOGIN_PER_MINUTE = 1
    browser = Client(REMOTE_ADDR="10.0.0.1")
    browser.post("/admin/login/", {"username": "ann@example.com", "password": WRONG})

    refused = browser.post(
        "/admin/login/", {"username": "ann@example.com", "password": user_password}
    )
    assert refused.status_code == 429
    assert browser.get("/admin/").status_code == 302  # to the login page
    assert browser.get("/api/v1/users/me", HTTP_ACCEPT="application/json").status_code == 401
