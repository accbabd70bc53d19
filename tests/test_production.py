"""Production settings as an operator sets them: Django's deployment checks pass."""

import secrets
import subprocess

from devstack import MANAGE, ROOT
from devstack.processes import clean_env


def test_deploy_checks_pass_with_production_settings(tmp_path):
    env = clean_env(
        ENVIRONMENT="production",
        SECRET_KEY=secrets.token_urlsafe(64),
        JWT_SECRET_KEY=secrets.token_urlsafe(48),
        ALLOWED_HOSTS="api.example.com",
        DATABASE_URL="postgres://tanka:secret@db.example.com:5432/tanka",
        REDIS_URL="redis://cache.example.com:6379/0",
        NUM_PROXIES="1",
        VAR_DIR=str(tmp_path),
    )
    result = subprocess.run(
        [*MANAGE, "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
