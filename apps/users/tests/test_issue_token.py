"""`manage.py issue_token`: a working access token for trying the API by hand."""

import io
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from apps.users.models import Preferences, User

pytestmark = pytest.mark.django_db


def issue(*args: str) -> str:
    out = io.StringIO()
    call_command("issue_token", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue().strip()


def me_with(token: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.get("/api/v1/users/me")


def test_prints_a_token_that_authenticates_the_user(user):
    response = me_with(issue("ANN@example.com"))
    assert response.status_code == 200
    assert response.json()["data"]["email"] == "ann@example.com"


def test_unknown_user_is_an_error_without_create(db):
    with pytest.raises(CommandError, match="--create"):
        issue("ghost@example.com")
    assert not User.objects.exists()


def test_create_makes_the_user_with_preferences(db):
    token = issue("New@Example.com", "--create")
    user = User.objects.get(email="new@example.com")
    assert not user.has_usable_password()
    assert Preferences.objects.filter(user=user).exists()
    assert me_with(token).status_code == 200


def test_create_with_password_lets_the_user_log_in(db):
    issue("pw@example.com", "--create", "--password", "Sturdy-Passw0rd-99")
    response = APIClient().post(
        "/api/v1/auth/login",
        {"email": "pw@example.com", "password": "Sturdy-Passw0rd-99"},
        format="json",
    )
    assert response.status_code == 200


def test_inactive_user_gets_no_token(user):
    user.is_active = False
    user.save()
    with pytest.raises(CommandError, match="inactive"):
        issue("ann@example.com")


def test_command_starts_in_a_fresh_process():
    """Import order differs from the test run's; the command must load on its own."""
    result = subprocess.run(
        [sys.executable, "manage.py", "issue_token", "--help"],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "--create" in result.stdout
