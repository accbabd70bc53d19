"""Every path answers with and without its trailing slash, for every method, with no
redirect (docs/api.md, "Paths")."""

import pytest

pytestmark = [pytest.mark.urls("apps.core.tests.urls"), pytest.mark.django_db]


@pytest.mark.parametrize(
    "path",
    [
        "/health",
        "/health/live",
        "/health/ready",
        "/docs",
        "/redoc",
        "/api/v1/info",
        "/api/v1/openapi.json",
    ],
)
@pytest.mark.parametrize("slash", ["", "/"])
def test_get_paths_answer_with_and_without_slash(api_client, path, slash):
    response = api_client.get(path + slash)
    assert response.status_code == 200, (path + slash, response.status_code)


@pytest.mark.parametrize("slash", ["", "/"])
@pytest.mark.parametrize("method", ["post", "delete"])
def test_write_methods_never_redirect(api_client, method, slash):
    if method == "post":
        response = api_client.post("/api/v1/test/echo" + slash, {"name": "a"}, format="json")
        assert response.status_code == 201
    else:
        assert api_client.delete("/api/v1/test/echo" + slash).status_code == 204
