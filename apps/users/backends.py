"""The one place a password is checked, for every way to log in: the API's login, the
browsable API's session login and the admin's all call `django.contrib.auth.authenticate`,
which asks this backend.

Each attempt is counted against the login limits (apps/core/throttles.py) before its
password is: per client IP first (no database read), then per account, where the account is
the one the login's own lookup finds (`email__iexact`, whatever the database's notion of
case), so a spelling the database matches to an account, such as `ſally@example.com` on
PostgreSQL, shares that account's limits. A refused attempt costs no password hash (about
200 ms and 100 MiB with Argon2).
"""

from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from apps.core.throttles import check_login_account, check_login_client
from apps.users.models import normalize_email


class RateLimitedModelBackend(ModelBackend):
    """Django's model backend with the password-login limits in front of the password check.
    Over a limit, or with the counters unreachable, it raises `LoginRefused` (a
    PermissionDenied, so no other backend is tried). Calls without a request (a shell, a
    management command) are not logins from the network and are not counted."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        user_model = get_user_model()
        if username is None:
            username = kwargs.get(user_model.USERNAME_FIELD)
        if username is None or password is None:
            return None
        if request is not None:
            check_login_client(request)
        try:
            user = user_model._default_manager.get_by_natural_key(username)
        except user_model.DoesNotExist:
            user = None
        if request is not None:
            account = str(user.pk) if user is not None else f"email:{normalize_email(username)}"
            check_login_account(request, account)
        if user is None:
            # Spend the time of a password check, so the answer does not tell which
            # accounts exist (Django's ModelBackend does the same).
            user_model().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None

    async def aauthenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        return await sync_to_async(self.authenticate)(request, username, password, **kwargs)
