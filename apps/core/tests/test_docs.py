"""The OpenAPI schema, Swagger UI and ReDoc, working offline (docs/api.md, "Paths")."""

import re

import pytest
from openapi_spec_validator import validate

SUCCESS_CODES = {"200", "201", "202", "204"}


@pytest.fixture(scope="module")
def schema(django_db_blocker) -> dict:
    from rest_framework.test import APIClient

    response = APIClient().get("/api/v1/openapi.json", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert "json" in response["Content-Type"]
    return response.json()


def test_schema_is_valid_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    validate(schema)


def test_schema_lists_health_and_api_paths_without_trailing_slashes(schema):
    paths = set(schema["paths"])
    assert {"/health", "/health/live", "/health/ready", "/api/v1/info"} <= paths
    assert not [p for p in paths if p.endswith("/")]


def operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield path, method, operation


def test_every_api_success_response_is_the_envelope(schema):
    for path, method, operation in operations(schema):
        if not path.startswith("/api/v1/") or path == "/api/v1/openapi.json":
            continue
        for code, response in operation["responses"].items():
            if code not in SUCCESS_CODES or "content" not in response:
                continue
            if set(response["content"]) == {"text/event-stream"}:
                continue  # the live event stream is not JSON (apps/events)
            body = response["content"]["application/json"]["schema"]
            if "$ref" in body:
                body = schema["components"]["schemas"][body["$ref"].split("/")[-1]]
            assert body["required"][:2] == ["success", "data"], (method, path, code)


def test_every_api_operation_documents_the_error_envelope(schema):
    for path, method, operation in operations(schema):
        if not path.startswith("/api/v1/") or path == "/api/v1/openapi.json":
            continue
        for code in ("400", "429", "500"):
            ref = operation["responses"][code]["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("/ErrorEnvelope"), (method, path, code)
    error = schema["components"]["schemas"]["ErrorEnvelope"]
    assert set(error["properties"]["error"]["required"]) == {
        "code",
        "message",
        "details",
        "request_id",
    }


def test_no_component_describes_itself_with_a_shared_base_class_docstring(schema):
    """A serializer without a docstring of its own is described by its base class's, which
    speaks of our internals, not of the API."""
    import inspect

    from apps.core.serializers import FieldsBuiltOnce

    internal = inspect.getdoc(FieldsBuiltOnce)
    leaked = [
        name
        for name, component in schema["components"]["schemas"].items()
        if component.get("description", "").strip() == internal
    ]
    assert leaked == []


def test_health_is_documented_unenveloped(schema):
    body = schema["paths"]["/health"]["get"]["responses"]["200"]["content"]["application/json"]
    ref = body["schema"]["$ref"].split("/")[-1]
    assert "status" in schema["components"]["schemas"][ref]["properties"]


def test_docs_page_names_swagger_ui_in_its_title(api_client):
    html = api_client.get("/docs").content.decode()
    assert "<title>Tanka Core API · Swagger UI</title>" in html


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_pages_load_their_assets_from_this_server(api_client, path):
    response = api_client.get(path)
    assert response.status_code == 200
    html = response.content.decode()
    assert "/api/v1/openapi.json" in html
    scripts = re.findall(r'<script[^>]+src="([^"]+)"', html)
    assert scripts, "the page loads its UI bundle"
    for src in scripts:
        assert src.startswith("/static/"), f"{src} would need the internet"
        assert api_client.get(src).status_code == 200, src
