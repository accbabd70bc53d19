"""Success answers wear `{success, data}`; lists add `meta` (docs/api.md, "Envelope")."""

import pytest

pytestmark = pytest.mark.urls("apps.core.tests.urls")


def test_object_is_enveloped_without_meta(api_client):
    body = api_client.get("/api/v1/info").json()
    assert body["success"] is True
    assert "meta" not in body
    assert body["data"]["api_version"] == "1.0.0"


def test_created_object_is_in_data(api_client):
    response = api_client.post("/api/v1/test/echo", {"name": "kit"}, format="json")
    assert response.status_code == 201
    assert response.json() == {"success": True, "data": {"name": "kit"}}


def test_no_content_has_no_body(api_client):
    response = api_client.delete("/api/v1/test/echo")
    assert response.status_code == 204
    assert response.content == b""


def test_browsers_get_the_browsable_api(api_client):
    response = api_client.get("/api/v1/info", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b"api_version" in response.content
    assert b"Log in" in response.content


def test_api_root_lists_the_resources_for_people_and_browsers(api_client):
    body = api_client.get("/api/v1/").json()
    assert body["success"] is True
    assert body["data"]["memories"].endswith("/api/v1/memories")
    assert body["data"]["auth"]["login"].endswith("/api/v1/auth/login")
    html = api_client.get("/api/v1", HTTP_ACCEPT="text/html").content.decode()
    assert "Api Root" in html
    assert "Not Found" not in html
