"""Rate limits (docs/api.md, "Rate limits") on DRF's throttle hooks, counted in the
django-redis cache.

Each throttle reads its per-minute rate from a setting at request time, so operators,
benchmarks and tests can change it. Counting is a window that opens at a client's first
request and lasts one minute; the counter is a single atomic Redis INCR, so concurrent
requests cannot slip past the limit the way DRF's read-modify-write history does.

With Redis unreachable the cache swallows the error and returns nothing: the throttle then
lets the request through rather than failing it or refusing it. Password logins are the
exception: their limits (`check_login_client`, `check_login_account`, applied by the
authentication backend before any password is checked) refuse a login they cannot count.

A throttled request is refused before its credentials are checked: `BearerTokenAuthentication`
calls `throttle_before_authentication` ahead of reporting a bad token, so a client over its
limit gets 429 whatever token it sends.
"""

import hashlib
import math
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

_UNSET = object()


class RateThrottle(SimpleRateThrottle):
    """Base of every Tanka throttle: rate from `setting`, counted once per request."""

    setting: str = ""
    cache = cache
    # Set when this request could not be counted (Redis unreachable).
    unavailable = False

    def get_rate(self) -> str | None:
        per_minute = int(getattr(settings, self.setting))
        return f"{per_minute}/min" if per_minute > 0 else None

    def principal(self, request: Request) -> Any:
        """The authenticated user this request counts against, or None for anonymous.

        Before authentication has finished, the authenticator hands the principal over on the
        request (reading `request.user` there would re-enter authentication)."""
        principal = getattr(request, "_throttle_principal", _UNSET)
        if principal is not _UNSET:
            return principal
        user = request.user
        return user if user is not None and user.is_authenticated else None

    def identity(self, request: Request, view: Any) -> str | None:
        """Whose counter this request bumps (the client IP unless a subclass says otherwise);
        None when this throttle does not apply."""
        return client_ip(self, request)

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        ident = self.identity(request, view)
        return None if ident is None else f"throttle:{self.scope}:{ident}"

    def allow_request(self, request: Request, view: Any) -> bool:
        limits = _limits_of(request)
        if self.scope in limits:
            # Already counted earlier in this request, before authentication.
            return True
        limits[self.scope] = None
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        count = self._hit(key)
        if count is None:
            self.unavailable = True
            return True
        allowed = count <= self.num_requests
        limits[self.scope] = (self.num_requests, max(0, self.num_requests - count))
        if not allowed:
            ttl = self.cache.ttl(key) if hasattr(self.cache, "ttl") else None
            self._wait = ttl if isinstance(ttl, int) and ttl > 0 else self.duration
        return allowed

    def _hit(self, key: str) -> int | None:
        """Count one request in the window of `key`; None when the cache is unreachable."""
        for _ in range(2):
            try:
                return self.cache.incr(key)
            except ValueError:
                # No open window: open one. When a concurrent request opened it first, `add`
                # fails and the next `incr` counts against that window.
                if self.cache.add(key, 1, timeout=self.duration):
                    return 1
        return None

    def wait(self) -> float | None:
        return getattr(self, "_wait", None)


def _limits_of(request: Request | HttpRequest) -> dict[str, tuple[int, int] | None]:
    """Per-scope (limit, remaining) of this request, kept on the Django request so the
    header middleware sees it."""
    django_request = getattr(request, "_request", request)
    limits = getattr(django_request, "rate_limits", None)
    if limits is None:
        limits = {}
        django_request.rate_limits = limits
    return limits


def client_ip(throttle: SimpleRateThrottle, request: Request) -> str:
    """The socket's address, or the one `NUM_PROXIES` trusted proxies appended to
    X-Forwarded-For; a client cannot choose its own."""
    return throttle.get_ident(request) or "unknown"


class AnonRateThrottle(RateThrottle):
    """`RATE_LIMIT_ANON_PER_MINUTE` per client IP, for calls without valid credentials."""

    scope = "anon"
    setting = "RATE_LIMIT_ANON_PER_MINUTE"

    def identity(self, request: Request, view: Any) -> str | None:
        if self.principal(request) is not None:
            return None
        return super().identity(request, view)


class UserRateThrottle(RateThrottle):
    """`RATE_LIMIT_PER_MINUTE` per authenticated user."""

    scope = "user"
    setting = "RATE_LIMIT_PER_MINUTE"

    def identity(self, request: Request, view: Any) -> str | None:
        user = self.principal(request)
        return None if user is None else str(user.pk)


def _digest(value: str) -> str:
    """Keys name accounts and emails by a digest, so Redis holds no address."""
    return hashlib.sha256(value.encode()).hexdigest()[:32]


class LoginRateThrottle(RateThrottle):
    """`RATE_LIMIT_LOGIN_PER_MINUTE` password logins per client IP and account: slows
    guessing one account's password without locking out others behind the same address."""

    scope = "login"
    setting = "RATE_LIMIT_LOGIN_PER_MINUTE"

    def __init__(self, account: str) -> None:
        super().__init__()
        self.account = account

    def identity(self, request: Request, view: Any) -> str | None:
        return f"{client_ip(self, request)}:{_digest(self.account)}"


class LoginAccountRateThrottle(LoginRateThrottle):
    """`RATE_LIMIT_LOGIN_ACCOUNT_PER_MINUTE` password logins per account, from any address:
    guesses spread over many addresses still meet one limit."""

    scope = "login-account"
    setting = "RATE_LIMIT_LOGIN_ACCOUNT_PER_MINUTE"

    def identity(self, request: Request, view: Any) -> str | None:
        return _digest(self.account)


class LoginClientRateThrottle(RateThrottle):
    """`RATE_LIMIT_LOGIN_IP_PER_MINUTE` password logins per client IP, whatever the account:
    one address cannot try a password on many accounts."""

    scope = "login-ip"
    setting = "RATE_LIMIT_LOGIN_IP_PER_MINUTE"


class LoginRefused(PermissionDenied):
    """A password login refused before its password is checked: over a limit (429, with
    the seconds to wait) or not countable because Redis is unreachable (503).

    A PermissionDenied, so `django.contrib.auth.authenticate` stops at the backend that
    raises it; the refusal is also kept on the request (`login_refusal`) for the view."""

    def __init__(self, *, wait: float | None = None, unavailable: bool = False) -> None:
        self.unavailable = unavailable
        self.wait = None if unavailable else max(1, math.ceil(wait or 60))
        self.status = 503 if unavailable else 429
        self.message = (
            "Logging in is unavailable for a moment. Try again shortly."
            if unavailable
            else f"Too many login attempts. Try again in {self.wait} seconds."
        )
        super().__init__(self.message)


def login_refusal(request: HttpRequest | None) -> LoginRefused | None:
    """Why the last password login of `request` was refused before its password was
    checked; None when it was not."""
    return getattr(request, "login_refusal", None)


def _count_login(request: HttpRequest, throttles: list[RateThrottle]) -> None:
    for throttle in throttles:
        allowed = throttle.allow_request(request, None)
        refusal = None
        if throttle.unavailable:
            refusal = LoginRefused(unavailable=True)
        elif not allowed:
            refusal = LoginRefused(wait=throttle.wait())
        if refusal is not None:
            request.login_refusal = refusal
            raise refusal


def check_login_client(request: HttpRequest) -> None:
    """Count a password login against its client's limit, before the account is looked up;
    raises `LoginRefused`."""
    _count_login(request, [LoginClientRateThrottle()])


def check_login_account(request: HttpRequest, account: str) -> None:
    """Count a password login against the limits of `account` (the id of the account the
    login names, as the login's own lookup found it, or the normalised email when none
    matched); raises `LoginRefused`."""
    _count_login(request, [LoginRateThrottle(account), LoginAccountRateThrottle(account)])


class RegisterRateThrottle(RateThrottle):
    """`RATE_LIMIT_REGISTER_PER_MINUTE` per client IP."""

    scope = "register"
    setting = "RATE_LIMIT_REGISTER_PER_MINUTE"


class CostlyActionRateThrottle(RateThrottle):
    """Per user (per client IP for a caller without credentials), for one costly action.
    Use a subclass beside the defaults:
    `throttle_classes = [AnonRateThrottle, UserRateThrottle, JobsRateThrottle]`."""

    def identity(self, request: Request, view: Any) -> str | None:
        user = self.principal(request)
        return str(user.pk) if user is not None else super().identity(request, view)


class JobsRateThrottle(CostlyActionRateThrottle):
    """`RATE_LIMIT_JOBS_PER_MINUTE` per user for creating jobs."""

    scope = "jobs"
    setting = "RATE_LIMIT_JOBS_PER_MINUTE"


class SimilarRateThrottle(CostlyActionRateThrottle):
    """`RATE_LIMIT_SIMILAR_PER_MINUTE` per user for similarity searches, each of which scores
    up to `SIMILAR_MAX_CANDIDATES` embeddings."""

    scope = "similar"
    setting = "RATE_LIMIT_SIMILAR_PER_MINUTE"


def throttle_before_authentication(request: Request, principal: Any) -> None:
    """Apply the view's Tanka throttles now, counting the request against `principal`
    (a user, or None for the client IP); raises `Throttled` when over a limit.

    DRF checks throttles only after authentication and permissions, so a client hammering
    with bad or missing credentials would only ever see 401. Throttles counted here are not
    counted again by DRF's own check later in the request."""
    view = (request.parser_context or {}).get("view")
    if view is None:
        return
    request._throttle_principal = principal
    try:
        waits = [
            throttle.wait()
            for throttle in view.get_throttles()
            if isinstance(throttle, RateThrottle) and not throttle.allow_request(request, view)
        ]
    finally:
        del request._throttle_principal
    if waits:
        view.throttled(request, max((w for w in waits if w is not None), default=None))


class RateLimitHeadersMiddleware:
    """Adds `X-RateLimit-Limit` and `X-RateLimit-Remaining` to every throttled response,
    from the limit closest to refusing this client. A 429 says 0 left, whatever refused it:
    a cap on what a user holds refuses while the request rates still have room."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        counted = [value for value in getattr(request, "rate_limits", {}).values() if value]
        if counted:
            limit, remaining = min(counted, key=lambda value: (value[1], value[0]))
            response["X-RateLimit-Limit"] = str(limit)
            response["X-RateLimit-Remaining"] = (
                "0" if response.status_code == 429 else str(remaining)
            )
        return response
