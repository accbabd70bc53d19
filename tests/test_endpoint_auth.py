"""Every `/api/v1/` endpoint that is not explicitly public refuses anonymous callers.

The routes are read from the URL conf, so an endpoint added later is covered without
touching this file; making one public means adding it to PUBLIC, on purpose."""

import re
from collections.abc import Iterator

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

API_PREFIX = "api/v1/"
PUBLIC = {"info", "openapi.json", "auth/register", "auth/login", "auth/refresh"}
METHODS = ["get", "post", "put", "patch", "delete"]
# Fixed, so every xdist worker collects the same test ids.
SAMPLE_ID = "3f2a8c1e-5b7d-4e9a-8c6f-1d2e3f4a5b6c"


def _text(pattern) -> str:
    raw = str(pattern.pattern)
    return raw[1:] if raw.startswith("^") else raw


def _routes(patterns, prefix: str) -> Iterator[tuple[str, URLPattern]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _routes(entry.url_patterns, prefix + _text(entry))
        else:
            yield prefix + _text(entry), entry


def _sample_path(route: str) -> str:
    """A concrete path the route matches: ids become a UUID, optional slashes go."""
    path = route.removesuffix("$")
    path = re.sub(r"\(\?P<\w+>[^)]*\)", SAMPLE_ID, path)
    path = re.sub(r"<(?:\w+:)?\w+>", SAMPLE_ID, path)
    return path.replace("/?", "").replace("\\.", ".").lstrip("^")


def api_routes() -> list[tuple[str, URLPattern]]:
    root = get_resolver("tanka.urls")
    api = [r for r in root.url_patterns if isinstance(r, URLResolver) and _text(r) == API_PREFIX]
    assert len(api) == 1, "tanka.urls must include the api/v1/ routes once"
    routes = []
    for route, pattern in _routes(api[0].url_patterns, ""):
        path = _sample_path(route)
        match = resolve(f"/{API_PREFIX}{path}", urlconf="tanka.urls")
        assert match.func is pattern.callback, f"cannot build a sample path for {route!r}"
        routes.append((path, pattern))
    return routes


ROUTES = api_routes()
PRIVATE = [path for path, _ in ROUTES if path not in PUBLIC]


def test_the_walk_sees_the_api():
    paths = {path for path, _ in ROUTES}
    assert PUBLIC <= paths
    assert {"users/me", "users/search", "auth/logout"} <= paths


@pytest.mark.parametrize("path", PRIVATE)
@pytest.mark.parametrize("method", METHODS)
def test_non_public_endpoint_refuses_anonymous_callers(settings, path, method):
    settings.RATE_LIMIT_ANON_PER_MINUTE = 0
    response = getattr(APIClient(), method)(f"/{API_PREFIX}{path}", {}, format="json")
    assert response.status_code == 401, (method, path, response.status_code)
    assert response.json()["error"]["code"] == "NOT_AUTHENTICATED"
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("path", sorted(PUBLIC))
def test_public_endpoint_answers_anonymous_callers(settings, path):
    settings.RATE_LIMIT_ANON_PER_MINUTE = 0
    client = APIClient()
    for method in ("get", "post"):
        response = getattr(client, method)(f"/{API_PREFIX}{path}", {}, format="json")
        assert response.status_code != 401, (method, path, response.status_code)


@pytest.mark.parametrize("path", PRIVATE)
def test_cors_preflight_needs_no_credentials(path):
    response = APIClient().options(
        f"/{API_PREFIX}{path}",
        HTTP_ORIGIN="http://localhost:3000",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type",
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "http://localhost:3000"
