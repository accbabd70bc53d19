"""Settings fail loudly, naming the variable, and production refuses development secrets."""

import subprocess
import sys

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
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT must be one of text, json, not 'xml'"),
        ({"JWT_ALGORITHM": "RS256"}, "JWT_ALGORITHM must be one of HS256, HS384, HS512"),
        ({"JOBS_WORKER_LOST_AFTER": "5"}, "JOBS_WORKER_LOST_AFTER must be at least 6"),
        ({"EVENTS_PING_SECONDS": "0"}, "EVENTS_PING_SECONDS must be at least 0.1"),
        ({"ACCESS_TOKEN_EXPIRE_MINUTES": "0"}, "ACCESS_TOKEN_EXPIRE_MINUTES must be at least 1"),
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


@pytest.mark.parametrize(("flag", "threshold"), [(None, "0"), ("true", "0"), ("false", "None")])
def test_prepared_statements_are_on_unless_turned_off(flag, threshold):
    """On, the statements built once are prepared on first use; off, none is."""
    env = {"DATABASE_URL": "postgres://tanka@127.0.0.1:5432/tanka"}
    if flag is not None:
        env["DATABASE_PREPARED_STATEMENTS"] = flag
    read = (
        "from django.conf import settings; "
        "print(settings.DATABASES['default']['OPTIONS'].get('prepare_threshold'))"
    )
    result = subprocess.run(
        [*MANAGE, "shell", "-c", read],
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == threshold


def test_reading_the_settings_creates_no_folder(tmp_path):
    """Folders of local state are made when the app starts, not when settings are read."""
    var = tmp_path / "state"
    code = "import tanka.settings"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=MANAGE[1].rsplit("/", 1)[0],
        env=clean_env(VAR_DIR=str(var)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert not var.exists()
    assert run_check(VAR_DIR=str(var)).returncode == 0
    assert (var / "static").is_dir()
