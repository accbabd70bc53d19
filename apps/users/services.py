"""Writes of the users app: accounts, their tokens, profiles and preferences."""

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import authenticate
from django.contrib.auth.models import update_last_login
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from rest_framework.exceptions import Throttled
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch, get_md5_hash_password

from apps.core.exceptions import ApplicationError, ConflictError, ServiceUnavailableError
from apps.core.throttles import login_refusal
from apps.users.models import Preferences, User, normalize_email


class InvalidCredentialsError(ApplicationError):
    """Login failed. One message whether the email or the password was wrong, so the answer
    does not tell which accounts exist."""

    status_code = 401
    code = "INVALID_CREDENTIALS"
    default_message = "Invalid email or password."


class InvalidTokenError(ApplicationError):
    status_code = 401
    code = "INVALID_TOKEN"
    default_message = "The token is invalid or expired."


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "bearer"


def token_pair_issue(*, user: User) -> TokenPair:
    """A fresh access token and a refresh token recorded as outstanding (so it can be revoked)."""
    refresh = RefreshToken.for_user(user)
    access = refresh.access_token
    return TokenPair(
        access_token=str(access),
        refresh_token=str(refresh),
        expires_in=int(access.lifetime.total_seconds()),
    )


def user_create(*, email: str, password: str | None, display_name: str = "") -> User:
    """Create an account; its preferences come with it (see signals). A `None` password makes
    an account that can only use tokens issued to it."""
    email = normalize_email(email)
    conflict = ConflictError(
        "An account with this email already exists.",
        details=[{"field": "email", "message": "An account with this email already exists."}],
    )
    with transaction.atomic():
        if User.objects.filter(email__iexact=email).exists():
            raise conflict
        try:
            with transaction.atomic():
                return User.objects.create_user(
                    email=email, password=password, display_name=display_name
                )
        except IntegrityError:
            # Another request registered the same email between the check and the insert.
            raise conflict from None


def auth_register(*, email: str, password: str, display_name: str = "") -> tuple[User, TokenPair]:
    with transaction.atomic():
        user = user_create(email=email, password=password, display_name=display_name)
        return user, token_pair_issue(user=user)


def auth_login(*, request: HttpRequest | None, email: str, password: str) -> tuple[User, TokenPair]:
    """Check the credentials with Django's backends (which count the attempt against the
    login limits first, spend the time of a password check on unknown emails, and refuse
    inactive accounts) and issue tokens."""
    user = authenticate(request, email=normalize_email(email), password=password)
    if user is None:
        refusal = login_refusal(request)
        if refusal is not None and refusal.unavailable:
            raise ServiceUnavailableError(refusal.message)
        if refusal is not None:
            raise Throttled(wait=refusal.wait)
        raise InvalidCredentialsError()
    with transaction.atomic():
        update_last_login(None, user)
        return user, token_pair_issue(user=user)


def _parse_refresh_token(raw: str) -> RefreshToken:
    """Signature, expiry, type and blacklist checked; any failure is INVALID_TOKEN."""
    try:
        return RefreshToken(raw)
    except TokenError as exc:
        raise InvalidTokenError(str(exc)) from None


def _token_user(token: RefreshToken) -> User:
    try:
        user = User.objects.get(pk=token.get(jwt_settings.USER_ID_CLAIM))
    except (User.DoesNotExist, DjangoValidationError, ValueError):
        raise InvalidTokenError("User not found") from None
    if not user.is_active:
        raise InvalidTokenError("User is inactive")
    if token.get(jwt_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(user.password):
        raise InvalidTokenError("The user's password has been changed.")
    return user


def _revoke(token: RefreshToken, *, user: User) -> None:
    """Blacklist `token`. Two requests racing with one token: the unique blacklist row lets
    exactly one of them win; the other is told the token is revoked."""
    outstanding, _ = OutstandingToken.objects.get_or_create(
        jti=token[jwt_settings.JTI_CLAIM],
        defaults={
            "user": user,
            "token": str(token),
            "created_at": token.current_time,
            "expires_at": datetime_from_epoch(token["exp"]),
        },
    )
    _, created = BlacklistedToken.objects.get_or_create(token=outstanding)
    if not created:
        raise InvalidTokenError("Token is blacklisted")


def auth_refresh(*, refresh_token: str) -> TokenPair:
    """Rotation: the refresh token is spent and a new pair issued."""
    with transaction.atomic():
        token = _parse_refresh_token(refresh_token)
        user = _token_user(token)
        _revoke(token, user=user)
        return token_pair_issue(user=user)


def auth_logout(*, user: User, refresh_token: str) -> None:
    """Revoke the caller's refresh token. Access tokens stay valid until they expire (they
    are short-lived and checked without a database lookup of the token)."""
    with transaction.atomic():
        token = _parse_refresh_token(refresh_token)
        if str(token.get(jwt_settings.USER_ID_CLAIM)) != str(user.pk):
            raise InvalidTokenError("The refresh token belongs to another account.")
        _revoke(token, user=user)


PROFILE_FIELDS = ("display_name", "avatar_url", "first_name", "last_name")
PREFERENCE_FIELDS = ("theme", "language", "email_notifications", "push_notifications")


def user_update(*, user: User, data: dict[str, Any]) -> User:
    """Change profile fields only; email, password and flags are never changed here."""
    changed = [field for field in PROFILE_FIELDS if field in data]
    for field in changed:
        setattr(user, field, data[field])
    if changed:
        with transaction.atomic():
            user.save(update_fields=[*changed, "updated_at"])
    return user


def preferences_get_or_create(*, user: User) -> Preferences:
    """The user's preferences; accounts created before preferences existed get the defaults."""
    preferences, _ = Preferences.objects.get_or_create(user=user)
    return preferences


def preferences_update(*, user: User, data: dict[str, Any]) -> Preferences:
    with transaction.atomic():
        preferences = preferences_get_or_create(user=user)
        changed = [field for field in PREFERENCE_FIELDS if field in data]
        for field in changed:
            setattr(preferences, field, data[field])
        if changed:
            preferences.save(update_fields=[*changed, "updated_at"])
    return preferences
