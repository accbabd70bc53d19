"""Settings fail loudly, naming the variable, and production refuses development secrets."""

import subprocess

import pytest

from devstack import MANAGE
from devstack.processes import clean_env
from tanka.settings import redis_url_for_db

STRONG = "k9" + "x7Qp2LmZ4vR8sT1wY6nB3cF5hJ0gD" * 3


def run_check(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MANAGE, "check"],
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "SECRET_KEY must be set in production"),
        ({"SECRET_KEY": "short-but-set"}, "SECRET_KEY is too weak"),
        ({"SECRET_KEY": STRONG}, "JWT_SECRET_KEY must be set in production"),
        ({"SECRET_KEY": STRONG, "JWT_SECRET_KEY": "a" * 40}, "JWT_SECRET_KEY is too weak"),
        (
            {"SECRET_KEY": STRONG, "JWT_SECRET_KEY": STRONG, "DEBUG": "true"},
            "DEBUG must be false in production",
        ),
        ({"SECRET_KEY": STRONG, "JWT_SECRET_KEY": STRONG}, "ALLOWED_HOSTS must be set"),
        *(
            (
                {"SECRET_KEY": STRONG, "JWT_SECRET_KEY": STRONG, "ALLOWED_HOSTS": "x", name: value},
                f"{name} has the example password 'change-me'",
            )
            for name, value in [
                ("DATABASE_URL", "postgres://tanka:change-me@postgres:5432/tanka"),
                ("REDIS_URL", "redis://:change-me@redis:6379/0"),
                ("POSTGRES_PASSWORD", "change-me"),
            ]
        ),
    ],
)
def test_production_refuses_to_start_with_weak_settings(env, named):
    result = run_check(ENVIRONMENT="production", **env)
    assert result.returncode != 0
    assert named in result.stderr


def test_production_starts_with_strong_settings(tmp_path):
    result = run_check(
        ENVIRONMENT="production",
        SECRET_KEY=STRONG,
        JWT_SECRET_KEY=STRONG[::-1],
        ALLOWED_HOSTS="api.tanka.example",
        VAR_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"ENVIRONMENT": "prod"}, "ENVIRONMENT must be"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT must be"),
        ({"MAX_PAGE_SIZE": "lots"}, "lots"),
    ],
)
def test_a_bad_value_stops_start_up_naming_it(env, named):
    result = run_check(**env)
    assert result.returncode != 0
    assert named in result.stderr


@pytest.mark.parametrize(
    ("url", "db", "expected"),
    [
        ("redis://127.0.0.1:6379/0", 1, "redis://127.0.0.1:6379/1"),
        ("redis://:pw@redis.internal:6380", 3, "redis://:pw@redis.internal:6380/3"),
        ("rediss://cache.example:6379/5", 0, "rediss://cache.example:6379/0"),
        ("unix:///run/redis.sock?db=4", 2, "unix:///run/redis.sock?db=2"),
    ],
)
def test_redis_url_for_db_points_at_the_named_database(url, db, expected):
    assert redis_url_for_db(url, db) == expected
