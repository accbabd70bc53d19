"""Attacks on the API, table-driven so every object endpoint, token forgery and query
parameter is covered. Each table's size is an "attacks tried" figure in docs/security.md
("Attacks tried on every run"); `test_security_figures` records them.

Another user's object is a 404 and stays untouched; every forged or stale token is a 401
`INVALID_TOKEN`; the admin and the RQ dashboard refuse non-staff; hostile query strings are a
400 or an empty result, never a 500 and never another user's rows; no log line carries a
token, a password or a secret.
"""

import base64
import hashlib
import hmac
import json
import logging
import os
import subprocess
import sys
from datetime import timedelta
from typing import Any

import jwt
import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from apps.jobs.models import Job, JobStatus
from apps.jobs.services import job_test_start
from apps.memories.models import Memory
from apps.memories.services import memory_create, memory_embed

pytestmark = pytest.mark.django_db

# --- IDOR: every object endpoint, as the owner and as another user -----------------------

# (method, path template, body, the owner's status): the owner's status proves the request
# reaches the object, so the stranger's 404 means "not yours", not "broken request".
OBJECT_ENDPOINTS = [
    ("get", "/api/v1/memories/{memory}", None, 200),
    ("put", "/api/v1/memories/{memory}", {"content": "replaced"}, 200),
    ("patch", "/api/v1/memories/{memory}", {"content": "patched"}, 200),
    ("delete", "/api/v1/memories/{memory}", None, 204),
    ("get", "/api/v1/memories/{memory}/similar", None, 200),
    ("get", "/api/v1/jobs/{job}", None, 200),
    ("post", "/api/v1/jobs/{pending_job}/cancel", None, 200),
    ("post", "/api/v1/jobs/{failed_job}/retry", None, 200),
]


@pytest.fixture
def owned_objects(user) -> dict[str, Any]:
    memory = memory_create(owner=user, content="the owner's secret note")
    neighbour = memory_create(owner=user, content="the owner's other note")
    for pk in (memory.pk, neighbour.pk):
        memory_embed(memory_id=str(pk))
    pending = job_test_start(owner=user)
    failed = job_test_start(owner=user)
    Job.objects.filter(pk=failed.pk).update(status=JobStatus.FAILED)
    return {
        "memory": memory.pk,
        "job": pending.pk,
        "pending_job": pending.pk,
        "failed_job": failed.pk,
    }


def _snapshot(objects: dict[str, Any]) -> Any:
    memory = Memory.objects.filter(pk=objects["memory"]).values("content", "updated_at").first()
    jobs = dict(Job.objects.filter(owner__isnull=False).values_list("pk", "status"))
    return memory, jobs


def _call(client: APIClient, method: str, path: str, body: Any):
    return (
        getattr(client, method)(path, body, format="json")
        if body
        else getattr(client, method)(path)
    )


@pytest.mark.parametrize("method, template, body, owner_status", OBJECT_ENDPOINTS)
def test_another_users_object_is_not_found_and_stays_untouched(
    client_for, user, other_user, owned_objects, method, template, body, owner_status
):
    path = template.format(**owned_objects)
    before = _snapshot(owned_objects)

    stranger = _call(client_for(other_user), method, path, body)

    assert stranger.status_code == 404, stranger.content
    assert stranger.json()["error"]["code"] == "NOT_FOUND"
    assert _snapshot(owned_objects) == before
    owner = _call(client_for(user), method, path, body)
    assert owner.status_code == owner_status, owner.content


@pytest.mark.parametrize("path", ["/api/v1/memories", "/api/v1/jobs"])
def test_lists_never_show_another_users_objects(client_for, other_user, owned_objects, path):
    response = client_for(other_user).get(path)

    assert response.status_code == 200
    assert response.json()["data"] == []


# --- JWT attacks ---------------------------------------------------------------------------


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _claims(user, **changes: Any) -> dict[str, Any]:
    claims = dict(AccessToken.for_user(user).payload)
    claims.update(changes)
    return claims


def _forge(header: dict[str, Any], claims: dict[str, Any], signature: str = "") -> str:
    return f"{_b64(header)}.{_b64(claims)}.{signature}"


def _alg_none(user) -> str:
    return _forge({"alg": "none", "typ": "JWT"}, _claims(user))


def _alg_none_capitalised(user) -> str:
    return _forge({"alg": "None", "typ": "JWT"}, _claims(user))


def _rs256_header(user) -> str:
    """RS/HS confusion: a token claiming RS256 is refused before any key is tried."""
    good = str(AccessToken.for_user(user))
    return _forge({"alg": "RS256", "typ": "JWT"}, _claims(user), good.rsplit(".", 1)[1])


def _hs256_signed_with_a_public_key(user) -> str:
    """The classic confusion: HMAC keyed with what an attacker thinks is the public key."""
    public_key = (
        b"-----BEGIN PUBLIC KEY-----\n"
        b"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----"
    )
    # PyJWT refuses to HMAC with a PEM key, so the signature is made by hand.
    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{_b64(_claims(user))}"
    digest = hmac.new(public_key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(digest).rstrip(b'=').decode()}"


def _wrong_key(user) -> str:
    return jwt.encode(_claims(user), "x" * 64, algorithm=settings.JWT_ALGORITHM)


def _secret_key_instead_of_jwt_key(user) -> str:
    return jwt.encode(_claims(user), settings.SECRET_KEY, algorithm=settings.JWT_ALGORITHM)


def _expired(user) -> str:
    past = timezone.now() - timedelta(minutes=5)
    return jwt.encode(
        _claims(user, exp=int(past.timestamp())),
        settings.JWT_SECRET_KEY,
        algorithm=settings.JWT_ALGORITHM,
    )


def _no_expiry(user) -> str:
    claims = _claims(user)
    claims.pop("exp")
    return jwt.encode(claims, settings.JWT_SECRET_KEY, algorithm=settings.JWT_ALGORITHM)


def _refresh_as_access(user) -> str:
    return str(RefreshToken.for_user(user))


def _payload_swapped_to_another_user(user, other) -> str:
    good = str(AccessToken.for_user(user)).split(".")
    return ".".join([good[0], _b64(_claims(user, user_id=str(other.pk))), good[2]])


def _revoked_by_password_change(user) -> str:
    token = str(AccessToken.for_user(user))
    user.set_password("a-New-password-99")
    user.save()
    return token


def _deleted_user(user) -> str:
    token = str(AccessToken.for_user(user))
    user.delete()
    return token


def _inactive_user(user) -> str:
    token = str(AccessToken.for_user(user))
    user.is_active = False
    user.save()
    return token


def _unknown_user(user) -> str:
    return jwt.encode(
        _claims(user, user_id="00000000-0000-4000-8000-000000000000"),
        settings.JWT_SECRET_KEY,
        algorithm=settings.JWT_ALGORITHM,
    )


def _truncated(user) -> str:
    return str(AccessToken.for_user(user))[:-10]


JWT_ATTACKS = {
    "alg none": lambda user, other: _alg_none(user),
    "alg None": lambda user, other: _alg_none_capitalised(user),
    "RS256 header (HS/RS confusion)": lambda user, other: _rs256_header(user),
    "HS256 keyed with a public key": lambda user, other: _hs256_signed_with_a_public_key(user),
    "wrong key": lambda user, other: _wrong_key(user),
    "SECRET_KEY instead of JWT_SECRET_KEY": lambda user, other: _secret_key_instead_of_jwt_key(
        user
    ),
    "expired": lambda user, other: _expired(user),
    "no expiry": lambda user, other: _no_expiry(user),
    "refresh token as access token": lambda user, other: _refresh_as_access(user),
    "payload swapped to another user": _payload_swapped_to_another_user,
    "revoked by a password change": lambda user, other: _revoked_by_password_change(user),
    "deleted user": lambda user, other: _deleted_user(user),
    "inactive user": lambda user, other: _inactive_user(user),
    "unknown user id": lambda user, other: _unknown_user(user),
    "truncated signature": lambda user, other: _truncated(user),
}


@pytest.mark.parametrize("attack", list(JWT_ATTACKS))
def test_forged_or_stale_tokens_are_refused(api_client, user, other_user, attack):
    token = JWT_ATTACKS[attack](user, other_user)
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    response = api_client.get("/api/v1/users/me")

    assert response.status_code == 401, response.content
    assert response.json()["error"]["code"] == "INVALID_TOKEN"


def test_a_rotated_refresh_token_cannot_be_used_again(api_client, user, user_password):
    login = api_client.post(
        "/api/v1/auth/login", {"email": user.email, "password": user_password}, format="json"
    ).json()["data"]
    first = api_client.post(
        "/api/v1/auth/refresh", {"refresh_token": login["refresh_token"]}, format="json"
    )
    replay = api_client.post(
        "/api/v1/auth/refresh", {"refresh_token": login["refresh_token"]}, format="json"
    )

    assert first.status_code == 200
    assert replay.status_code == 401
    assert replay.json()["error"]["code"] == "INVALID_TOKEN"


# --- Admin and the RQ dashboard ----------------------------------------------------------

STAFF_PAGES = [
    "/admin/",
    "/admin/users/user/",
    "/admin/jobs/job/",
    "/admin/memories/memory/",
    "/admin/django_rq/dashboard/",
    "/admin/django_rq/dashboard/queues/0/",
    "/admin/django_rq/dashboard/workers/0/",
    "/admin/django_rq/dashboard/stats.json",
]


@pytest.mark.parametrize("page", STAFF_PAGES)
def test_admin_and_rq_dashboard_refuse_anyone_but_staff(
    client, client_for, user, staff_client, page
):
    anonymous = client.get(page)
    client.force_login(user)
    non_staff = client.get(page)
    bearer = client_for(user).get(page)
    allowed = staff_client.get(page)

    for refused in (anonymous, non_staff, bearer):
        assert refused.status_code in (302, 401, 403), (page, refused.status_code)
        assert b"high_priority" not in refused.content
    assert allowed.status_code == 200, page


# --- Hostile query parameters ------------------------------------------------------------

HOSTILE_VALUES = {
    "sql quote": "' OR '1'='1",
    "sql comment": "1; DROP TABLE users_user; --",
    "sql union": "x' UNION SELECT email, password FROM users_user --",
    "sql like wildcard": "%",
    "json path": '$[*] ? (@ == "x")',
    "nul byte": "a\x00b",
    "newline": "a\nb",
    "path traversal": "../../../../etc/passwd",
    "template": "{{7*7}}${7*7}",
    "emoji": "\U0001f600" * 50,
    "negative": "-1",
    "huge integer": "9" * 400,
    "oversized (64 KiB)": "A" * 65536,
}

QUERY_PARAMETERS = {
    "/api/v1/memories": [
        "page", "per_page", "limit", "memory_type", "tag", "q", "created_after",
        "created_before", "ordering",
    ],
    "/api/v1/jobs": ["page", "per_page", "limit", "status", "name"],
    "/api/v1/users/search": ["q", "page", "per_page", "limit"],
    "/api/v1/memories/{memory}/similar": ["page", "per_page", "limit"],
}  # fmt: skip

HOSTILE_QUERIES = [
    (path, parameter, name)
    for path, parameters in QUERY_PARAMETERS.items()
    for parameter in parameters
    for name in HOSTILE_VALUES
]


@pytest.fixture
def victim_objects(other_user) -> dict[str, Any]:
    """Another user's rows, which no hostile query may reveal."""
    memory_create(owner=other_user, content="the victim's diary")
    job_test_start(owner=other_user)
    return {}


@pytest.mark.parametrize("path, parameter, name", HOSTILE_QUERIES)
def test_hostile_query_parameters_are_a_400_or_an_empty_result(
    auth_client, owned_objects, victim_objects, path, parameter, name
):
    params = {parameter: HOSTILE_VALUES[name]}
    if path.endswith("search") and parameter != "q":
        params["q"] = "nobody-matches-this"

    response = auth_client.get(path.format(**owned_objects), params)

    assert response.status_code in (200, 400), response.content[:500]
    body = response.json()
    if response.status_code == 400:
        assert body["error"]["code"] == "VALIDATION_ERROR"
    else:
        assert b"victim" not in response.content
        assert b"bob@example.com" not in response.content
        assert all(item.get("id") != str(victim_objects) for item in body["data"])


# --- Secrets in logs -----------------------------------------------------------------------


def test_no_token_password_or_secret_appears_in_any_log_line(api_client, caplog):
    password = "Correct-Horse-Battery-77"
    caplog.set_level(logging.DEBUG)
    register = api_client.post(
        "/api/v1/auth/register",
        {"email": "logs@example.com", "password": password},
        format="json",
    ).json()["data"]
    api_client.post(
        "/api/v1/auth/login", {"email": "logs@example.com", "password": "wrong-Password-1"},
        format="json",
    )  # fmt: skip
    login = api_client.post(
        "/api/v1/auth/login", {"email": "logs@example.com", "password": password}, format="json"
    ).json()["data"]
    refreshed = api_client.post(
        "/api/v1/auth/refresh", {"refresh_token": login["refresh_token"]}, format="json"
    ).json()["data"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {refreshed['access_token']}")
    api_client.get("/api/v1/users/me")
    api_client.post("/api/v1/memories", {"content": "logged?"}, format="json")
    api_client.post("/api/v1/jobs/test", {}, format="json")
    api_client.post(
        "/api/v1/auth/logout", {"refresh_token": refreshed["refresh_token"]}, format="json"
    )
    api_client.post(
        "/api/v1/auth/refresh", {"refresh_token": refreshed["refresh_token"]}, format="json"
    )
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {register['access_token']}x")
    api_client.get("/api/v1/users/me")

    secrets = {
        "password": password,
        "wrong password": "wrong-Password-1",
        "SECRET_KEY": settings.SECRET_KEY,
        "JWT_SECRET_KEY": settings.JWT_SECRET_KEY,
    }
    for data in (register, login, refreshed):
        for field in ("access_token", "refresh_token"):
            secrets[field] = data[field]
            # A JWT's signature alone is as good as the token to someone holding the rest.
            secrets[f"{field} signature"] = data[field].rsplit(".", 1)[1]
    lines = [caplog.text, *(str(record.__dict__) for record in caplog.records)]
    assert len(caplog.records) >= 10, "the flow must have been logged"
    leaked = sorted({name for name, value in secrets.items() for line in lines if value in line})
    assert not leaked


# --- Production settings -----------------------------------------------------------------

PRODUCTION_ENV = {
    "ENVIRONMENT": "production",
    "DEBUG": "false",
    "SECRET_KEY": "prod-" + "k3y-Zq8" * 10,
    "JWT_SECRET_KEY": "prod-jwt-" + "s3cr-Wx7" * 5,
    "ALLOWED_HOSTS": "api.example.com,testserver",
}

HEADERS_SCRIPT = """
import json, django
django.setup()
from django.test import Client
client = Client()
answers = {}
for name, path, secure in [
    ("https api", "/api/v1/info", True),
    ("https health", "/health/live", True),
    ("https schema", "/api/v1/openapi.json", True),
    ("http api", "/api/v1/info", False),
    ("http health", "/health/live", False),
]:
    response = client.get(path, secure=secure, HTTP_HOST="api.example.com")
    answers[name] = {"status": response.status_code, "headers": dict(response.headers)}
print(json.dumps(answers))
"""


def _production(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_")}
    return {
        **env,
        **PRODUCTION_ENV,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "tanka.settings",
    }


def test_check_deploy_reports_nothing_with_production_settings(tmp_path):
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "DEBUG"],
        cwd=settings.BASE_DIR, env=_production(tmp_path), capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip

    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues (0 silenced)." in done.stdout


def test_production_answers_carry_the_security_headers(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", HEADERS_SCRIPT],
        cwd=settings.BASE_DIR, env=_production(tmp_path), capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    answers = json.loads(done.stdout.strip().splitlines()[-1])

    for name, answer in answers.items():
        headers = answer["headers"]
        if name.startswith("https"):
            assert answer["status"] == 200, name
            assert headers["Strict-Transport-Security"] == (
                "max-age=31536000; includeSubDomains; preload"
            ), name
        assert headers.get("X-Content-Type-Options") == "nosniff", (name, headers)
        if answer["status"] != 301:  # the HTTPS redirect has no page to frame
            assert headers.get("X-Frame-Options") == "DENY", (name, headers)
        assert headers.get("Referrer-Policy") == "same-origin", (name, headers)
    assert answers["http api"]["status"] == 301
    assert answers["http api"]["headers"]["Location"] == "https://api.example.com/api/v1/info"
    # Load balancers probe health over plain HTTP inside the network.
    assert answers["http health"]["status"] == 200
    assert "Strict-Transport-Security" not in answers["http health"]["headers"]


PROXIED_SCRIPT = """
import json, django
django.setup()
from django.test import Client
client = Client()
answers = {}
for name, headers in [
    ("https from the balancer", {"HTTP_X_FORWARDED_PROTO": "https"}),
    ("plain http", {}),
    ("a client's forwarded host", {"HTTP_X_FORWARDED_PROTO": "https",
                                    "HTTP_X_FORWARDED_HOST": "evil.example"}),
    ("a redirect with a forwarded host", {"HTTP_X_FORWARDED_HOST": "api.example.com:666"}),
]:
    response = client.get("/api/v1/info", HTTP_HOST="api.example.com", **headers)
    answers[name] = {"status": response.status_code, "headers": dict(response.headers)}
print(json.dumps(answers))
"""


def test_behind_the_load_balancer_https_is_what_the_proxy_says_and_the_host_is_host(tmp_path):
    """Production behind nginx (NUM_PROXIES=1) with SECURE_SSL_REDIRECT on, the recipe of
    docs/operations.md: a request the proxy marks HTTPS gets HSTS and no redirect (no loop),
    plain HTTP is redirected, and X-Forwarded-Host is never taken for the host."""
    env = {**_production(tmp_path), "NUM_PROXIES": "1", "SECURE_SSL_REDIRECT": "true"}
    done = subprocess.run(
        [sys.executable, "-c", PROXIED_SCRIPT],
        cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    answers = json.loads(done.stdout.strip().splitlines()[-1])

    https = answers["https from the balancer"]
    assert https["status"] == 200
    assert https["headers"]["Strict-Transport-Security"].startswith("max-age=31536000")
    plain = answers["plain http"]
    assert plain["status"] == 301
    assert plain["headers"]["Location"] == "https://api.example.com/api/v1/info"
    assert answers["a client's forwarded host"]["status"] == 200
    redirect = answers["a redirect with a forwarded host"]
    assert redirect["headers"]["Location"] == "https://api.example.com/api/v1/info"


def test_security_figures():
    """Not a check of its own: records the size of each attack table for docs/security.md."""
    from tests.system.helpers import record_figures

    record_figures(
        "security",
        "pytest tests/test_security.py",
        idor_cases=len(OBJECT_ENDPOINTS) + 2,
        jwt_attacks=len(JWT_ATTACKS) + 1,
        staff_only_pages=len(STAFF_PAGES),
        hostile_query_cases=len(HOSTILE_QUERIES),
        production_checks="check --deploy clean; HSTS, nosniff, frame DENY, referrer policy",
    )
    assert HOSTILE_QUERIES and JWT_ATTACKS and OBJECT_ENDPOINTS
