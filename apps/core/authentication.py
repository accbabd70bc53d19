"""Bearer-token authentication (CONTRACT 1, 3): simplejwt access tokens, throttled first."""

from functools import lru_cache
from typing import Any

from django.contrib.auth import get_user_model
from django.core.cache import cache
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import aware_utcnow, get_md5_hash_password

from apps.core.throttles import throttle_before_authentication


def _token_error(exc: exceptions.AuthenticationFailed) -> exceptions.AuthenticationFailed:
    """simplejwt reports failures as nested dicts; the envelope wants one plain message
    ("Token is expired", "Token has wrong type", "User is inactive", ...)."""
    detail: Any = exc.detail
    message = "The token is invalid."
    if isinstance(detail, dict):
        messages = detail.get("messages") or []
        if messages and isinstance(messages[0], dict) and messages[0].get("message"):
            message = str(messages[0]["message"])
        elif detail.get("detail"):
            message = str(detail["detail"])
    elif detail:
        message = str(detail)
    return exceptions.AuthenticationFailed(message)


# A token's user is read from the database at most once a minute per user: the profile showed
# that lookup as the largest single cost of an authenticated cached read. Every save or
# delete of a user drops the entry at once (`forget_cached_user`), so deactivation and
# password changes still take effect on the next request; only a bulk queryset `update()`,
# which sends no signal, can be seen late, by at most this long.
TOKEN_USER_CACHE_SECONDS = 60


def _token_user_key(user_id: Any) -> str:
    return f"auth:token-user:{user_id}"


def forget_cached_user(sender: Any, instance: Any, **kwargs: Any) -> None:
    """Drop the cached copy of a user that changed (connected in CoreConfig.ready)."""
    cache.delete(_token_user_key(instance.pk))


def cached_user(user_id: Any) -> Any | None:
    """The user with this id, read through the same per-user cache as bearer tokens' users
    (for credentials that name a user without being a token, such as an event ticket);
    None when there is no such user."""
    key = _token_user_key(user_id)
    user = cache.get(key)
    if user is None:
        user = get_user_model().objects.filter(pk=user_id).first()
        if user is not None:
            cache.set(key, user, TOKEN_USER_CACHE_SECONDS)
    return user


def _session_user(request: Request) -> Any:
    """The user Django's session middleware found, if any (DRF's SessionAuthentication
    accepts the same user right after this class)."""
    user = getattr(request._request, "user", None)
    return user if user is not None and user.is_authenticated and user.is_active else None


class BearerTokenAuthentication(JWTAuthentication):
    """`Authorization: Bearer <access token>`, the scheme name in any case.

    Tampered, expired, wrong-type, revoked (password changed) and inactive-user tokens are
    refused with `AuthenticationFailed` (401 `INVALID_TOKEN`), but only after the view's
    throttles have counted the request, so a client over its limit gets 429 first."""

    def get_raw_token(self, header: bytes) -> bytes | None:
        parts = header.split()
        if parts and parts[0].lower() == b"bearer":
            parts[0] = b"Bearer"
        return super().get_raw_token(b" ".join(parts))

    def get_validated_token(self, raw_token: bytes) -> Token:
        # A token's signature and claims never change: each api process checks a token once
        # (the profile showed the decoding second only to Redis), and its expiry every time.
        token = _validated_token(raw_token)
        try:
            token.check_exp(current_time=aware_utcnow())
        except TokenError:
            # Refused with simplejwt's own message.
            return super().get_validated_token(raw_token)
        return token

    def authenticate(self, request: Request) -> tuple[Any, Token] | None:
        try:
            result = super().authenticate(request)
        except exceptions.AuthenticationFailed as exc:
            throttle_before_authentication(request, principal=None)
            raise _token_error(exc) from exc
        throttle_before_authentication(
            request, principal=result[0] if result else _session_user(request)
        )
        return result

    def get_user(self, validated_token: Token) -> Any:
        user_id = validated_token.get(api_settings.USER_ID_CLAIM)
        key = _token_user_key(user_id)
        user = cache.get(key) if user_id is not None else None
        if user is None:
            # simplejwt reads the row and refuses an unknown, inactive or revoked user.
            user = super().get_user(validated_token)
            cache.set(key, user, TOKEN_USER_CACHE_SECONDS)
            return user
        # The same checks simplejwt makes, on the cached row.
        if api_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            raise exceptions.AuthenticationFailed("User is inactive", code="user_inactive")
        if api_settings.CHECK_REVOKE_TOKEN and validated_token.get(
            api_settings.REVOKE_TOKEN_CLAIM
        ) != get_md5_hash_password(user.password):
            raise exceptions.AuthenticationFailed(
                "The user's password has been changed.", code="password_changed"
            )
        return user


@lru_cache(maxsize=2048)
def _validated_token(raw_token: bytes) -> Token:
    """simplejwt's full check of a raw token; a refused token raises and is never kept."""
    return JWTAuthentication().get_validated_token(raw_token)


class BearerTokenScheme(SimpleJWTScheme):
    """Documents `BearerTokenAuthentication` in the OpenAPI schema as HTTP bearer (JWT)."""

    target_class = BearerTokenAuthentication
    name = "bearerAuth"
