"""Every failure under /api/ wears the error envelope (docs/api.md, "Errors"); outside /api/
a browser gets the HTML error pages of templates/."""

import io
import json
import logging

import pytest
from django.test import Client

pytestmark = pytest.mark.urls("apps.core.tests.urls")


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["success"] is False
    assert set(body["error"]) == {"code", "message", "details", "request_id"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["details"], list)
    assert body["error"]["request_id"] == response["X-Request-ID"]
    return body["error"]


def test_unknown_api_path_is_enveloped_404(api_client):
    assert_error(api_client.get("/api/v1/no-such-thing"), 404, "NOT_FOUND")


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
def test_unknown_api_path_is_404_for_every_method(api_client, method):
    assert_error(getattr(api_client, method)("/api/v2/anything/"), 404, "NOT_FOUND")


def test_unknown_api_path_is_404_json_even_in_debug(api_client, settings):
    settings.DEBUG = True
    assert_error(api_client.get("/api/v1/missing", HTTP_ACCEPT="text/html"), 404, "NOT_FOUND")


@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
def test_a_host_header_outside_allowed_hosts_is_a_400_envelope_under_the_api(
    api_client, settings, debug
):
    # Django refuses it before any view, with its own HTML page (under DEBUG, a traceback).
    settings.DEBUG = debug
    response = api_client.get(
        "/api/v1/info", HTTP_HOST="evil.example", HTTP_ORIGIN="http://localhost:3000"
    )

    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert "Host header" in error["message"]
    assert response["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert "Traceback" not in response.content.decode()


def test_a_host_header_outside_allowed_hosts_is_django_s_own_400_outside_the_api(client):
    response = client.get("/health/live", HTTP_HOST="evil.example")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")


def test_wrong_method_is_405(api_client):
    assert_error(api_client.delete("/api/v1/info"), 405, "METHOD_NOT_ALLOWED")


def test_invalid_json_is_parse_error(api_client):
    response = api_client.post(
        "/api/v1/test/echo", data="{not json", content_type="application/json"
    )
    assert_error(response, 400, "PARSE_ERROR")


def test_json_that_is_not_an_object_is_a_parse_error_not_a_crash(api_client):
    response = api_client.post("/api/v1/test/echo", data="[1, 2]", content_type="application/json")
    assert_error(response, 400, "PARSE_ERROR")


def test_form_body_is_unsupported_media_type(api_client):
    response = api_client.post(
        "/api/v1/test/echo", data="name=x", content_type="application/x-www-form-urlencoded"
    )
    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_body_over_the_limit_is_413(api_client, settings):
    settings.MAX_REQUEST_BODY_BYTES = 1000
    body = json.dumps({"name": "x" * 2000})
    response = api_client.post("/api/v1/test/echo", data=body, content_type="application/json")
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")


def test_body_at_the_limit_is_accepted(api_client, settings):
    body = json.dumps({"name": "ok"})
    settings.MAX_REQUEST_BODY_BYTES = len(body)
    response = api_client.post("/api/v1/test/echo", data=body, content_type="application/json")
    assert response.status_code == 201


def post_chunked(client, path: str, body: bytes):
    """A POST whose body comes with no `Content-Length`, as `Transfer-Encoding: chunked`
    sends it (the server hands the app the body's stream, ending where the body ends)."""
    return client.generic(
        "POST",
        path,
        content_type="application/json",
        HTTP_TRANSFER_ENCODING="chunked",
        **{"wsgi.input": io.BytesIO(body)},
    )


def test_a_chunked_body_is_read_like_any_other(api_client):
    response = post_chunked(api_client, "/api/v1/test/echo", b'{"name": "chunked"}')

    assert response.status_code == 201
    assert response.json()["data"] == {"name": "chunked"}


def test_a_chunked_body_over_the_limit_is_413(api_client, settings):
    settings.MAX_REQUEST_BODY_BYTES = 1000
    body = json.dumps({"name": "x" * 2000}).encode()

    assert_error(post_chunked(api_client, "/api/v1/test/echo", body), 413, "PAYLOAD_TOO_LARGE")


def test_a_chunked_body_at_the_limit_is_accepted(api_client, settings):
    body = b'{"name": "ok"}'
    settings.MAX_REQUEST_BODY_BYTES = len(body)

    assert post_chunked(api_client, "/api/v1/test/echo", body).status_code == 201


def test_validation_error_names_each_field_with_dotted_paths(api_client):
    response = api_client.post(
        "/api/v1/test/echo",
        {"name": "far too long a name", "tags": ["ok", "toolong"], "meta": {"source": "x"}},
        format="json",
    )
    error = assert_error(response, 400, "VALIDATION_ERROR")
    fields = {detail["field"] for detail in error["details"]}
    assert fields == {"name", "tags.1", "meta.source"}
    assert error["message"].startswith("name: ")


def test_missing_field_says_it_is_required(api_client):
    error = assert_error(
        api_client.post("/api/v1/test/echo", {}, format="json"), 400, "VALIDATION_ERROR"
    )
    assert error["details"] == [{"field": "name", "message": "This field is required."}]


def test_crashing_view_is_internal_error_without_traceback(api_client, caplog):
    with caplog.at_level(logging.ERROR, logger="tanka.errors"):
        response = api_client.get("/api/v1/test/crash")
    error = assert_error(response, 500, "INTERNAL_ERROR")
    raw = response.content.decode()
    assert "secret" not in raw and "Traceback" not in raw and "RuntimeError" not in raw
    assert error["message"] == "An internal error occurred."
    assert any(record.exc_info for record in caplog.records), "the traceback goes to the log"


@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
def test_crashing_plain_django_view_is_enveloped_too(api_client, settings, debug, caplog):
    settings.DEBUG = debug
    api_client.raise_request_exception = False
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = api_client.get("/api/v1/test/django-crash", HTTP_ACCEPT="text/html")

    error = assert_error(response, 500, "INTERNAL_ERROR")
    assert error["message"] == "An internal error occurred."
    raw = response.content.decode()
    assert "secret" not in raw and "Traceback" not in raw and "RuntimeError" not in raw
    assert any(record.exc_info for record in caplog.records), "the traceback goes to the log"


@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
def test_a_404_raised_by_a_plain_django_view_is_enveloped(api_client, settings, debug):
    # Django answers it with its own page (under DEBUG its technical one), not a handler of ours.
    settings.DEBUG = debug
    response = api_client.get("/api/v1/test/django-not-found", HTTP_ACCEPT="text/html")

    error = assert_error(response, 404, "NOT_FOUND")
    assert error["message"] == "No such path."
    assert "says a plain Django view" not in response.content.decode()


def test_unknown_page_outside_the_api_is_the_html_404_page(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert "Page not found" in response.content.decode()


def test_crash_outside_the_api_is_the_html_500_page_without_details():
    response = Client(raise_request_exception=False).get("/test/django-crash")
    page = response.content.decode()
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    assert "Something went wrong on our side" in page
    assert "secret" not in page and "RuntimeError" not in page


def test_authentication_required_is_401_with_bearer_challenge(api_client):
    response = api_client.get("/api/v1/test/private")
    assert_error(response, 401, "NOT_AUTHENTICATED")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_errors_are_json_even_for_browsers(api_client):
    response = api_client.get("/api/v1/test/private", HTTP_ACCEPT="text/html")
    assert_error(response, 401, "NOT_AUTHENTICATED")


def test_database_outage_is_service_unavailable(api_client, monkeypatch):
    from django.db import OperationalError

    from apps.core.tests import urls

    def down(self, request):
        raise OperationalError("could not connect to server: Connection refused")

    monkeypatch.setattr(urls.Crash, "get", down)
    response = api_client.get("/api/v1/test/crash")
    assert_error(response, 503, "SERVICE_UNAVAILABLE")
    assert "Connection refused" not in response.content.decode()


def test_unknown_accept_falls_back_to_json(api_client):
    response = api_client.get("/api/v1/info", HTTP_ACCEPT="application/xml")
    assert response.status_code == 200
    assert response.json()["success"] is True
