"""Bearer-token authentication (docs/api.md, "Accounts" and "Errors"): simplejwt access
tokens, throttled first."""

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DEFAULT_DB_ALIAS, transaction
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import aware_utcnow, get_md5_hash_password

from apps.core.cache import cached, invalidate
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
# that lookup as the largest single cost of an authenticated cached read. Each entry holds the
# account's non-secret fields and the digest of its password that tokens carry, as JSON (never
# the password hash, never a pickle). A save or delete of a user bumps the entry's generation
# once it commits (`forget_cached_user`), and a fill computed before that commit is then stale
# (apps/core/cache.py), so deactivation and password changes take effect on the next request;
# only a bulk queryset `update()`, which sends no signal, can be seen late, by at most this long.
TOKEN_USER_CACHE_SECONDS = 60
_REVOKE_DIGEST = "revoke_digest"
_NOT_JSON_NATIVE = {"UUIDField", "DateTimeField", "DateField", "DecimalField"}


def _token_user_namespace(user_id: Any) -> str:
    return f"token-user:{user_id}"


@lru_cache(maxsize=1)
def _user_fields() -> tuple[tuple[str, Callable[[Any], Any] | None], ...]:
    """The user's columns except its password, in the model's order (what `from_db` wants),
    each with what turns its JSON form back into its value (None where JSON keeps it)."""
    return tuple(
        (
            field.attname,
            field.to_python if field.get_internal_type() in _NOT_JSON_NATIVE else None,
        )
        for field in get_user_model()._meta.concrete_fields
        if field.attname != "password"
    )


@cached("token-user", _token_user_namespace, ttl=TOKEN_USER_CACHE_SECONDS)
def _token_user_entry(user_id: str) -> dict[str, Any] | None:
    """What authenticating a token needs of its account, JSON-ready; None when it is gone."""
    names = [name for name, _ in _user_fields()]
    try:
        row = (
            get_user_model()._default_manager.filter(pk=user_id).values(*names, "password").first()
        )
    except (DjangoValidationError, ValueError):
        return None
    if row is None:
        return None
    row[_REVOKE_DIGEST] = get_md5_hash_password(row.pop("password"))
    return row


def _user_from_entry(entry: dict[str, Any]) -> Any:
    """The account as a model instance whose password is deferred: reading it costs a query,
    and saving the instance writes only the loaded fields, never an empty password."""
    fields = _user_fields()
    return get_user_model().from_db(
        DEFAULT_DB_ALIAS,
        [name for name, _ in fields],
        [entry[name] if parse is None else parse(entry[name]) for name, parse in fields],
    )


def forget_cached_user(sender: Any, instance: Any, using: str | None = None, **kwargs: Any) -> None:
    """Drop the cached copy of a user that changed, once the change commits (connected in
    CoreConfig.ready): dropped before, a concurrent request would read the old committed row
    and cache it again."""
    namespace = _token_user_namespace(instance.pk)
    transaction.on_commit(lambda: invalidate(namespace), using=using, robust=True)


def cached_user(user_id: Any) -> Any | None:
    """The user with this id, read through the same per-user cache as bearer tokens' users
    (for credentials that name a user without being a token, such as an event ticket);
    None when there is no such user."""
    entry = _token_user_entry(str(user_id)).value
    return None if entry is None else _user_from_entry(entry)


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
        # simplejwt's checks, on the cached entry.
        user_id = validated_token.get(api_settings.USER_ID_CLAIM)
        if user_id is None:
            raise InvalidToken("Token contained no recognizable user identification")
        entry = _token_user_entry(str(user_id)).value
        if entry is None:
            raise exceptions.AuthenticationFailed("User not found", code="user_not_found")
        if api_settings.CHECK_USER_IS_ACTIVE and not entry["is_active"]:
            raise exceptions.AuthenticationFailed("User is inactive", code="user_inactive")
        if (
            api_settings.CHECK_REVOKE_TOKEN
            and validated_token.get(api_settings.REVOKE_TOKEN_CLAIM) != entry[_REVOKE_DIGEST]
        ):
            raise exceptions.AuthenticationFailed(
                "The user's password has been changed.", code="password_changed"
            )
        return _user_from_entry(entry)


@lru_cache(maxsize=2048)
def _validated_token(raw_token: bytes) -> Token:
    """simplejwt's full check of a raw token; a refused token raises and is never kept."""
    return JWTAuthentication().get_validated_token(raw_token)


class BearerTokenScheme(SimpleJWTScheme):
    """Documents `BearerTokenAuthentication` in the OpenAPI schema as HTTP bearer (JWT)."""

    target_class = BearerTokenAuthentication
    name = "bearerAuth"
