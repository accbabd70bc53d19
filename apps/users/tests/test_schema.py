"""The OpenAPI schema documents the auth and users endpoints truthfully."""

import pytest
from openapi_spec_validator import validate

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(api_client) -> dict:
    response = api_client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.json()


def test_schema_is_valid_openapi(schema):
    validate(schema)


def test_schema_stays_valid_when_served_again(api_client, schema):
    validate(api_client.get("/api/v1/openapi.json").json())


def test_schema_lists_the_auth_and_users_endpoints(schema):
    assert {
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/auth/logout",
        "/api/v1/users/me",
        "/api/v1/users/me/preferences",
        "/api/v1/users/search",
    } <= set(schema["paths"])


def test_protected_endpoints_declare_bearer_auth(schema):
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert {"bearerAuth": []} in schema["paths"]["/api/v1/users/me"]["get"]["security"]
    assert schema["paths"]["/api/v1/auth/login"]["post"]["security"] == [{}]


def test_login_documents_invalid_credentials(schema):
    responses = schema["paths"]["/api/v1/auth/login"]["post"]["responses"]
    assert "INVALID_CREDENTIALS" in responses["401"]["description"]
    assert "429" in responses
