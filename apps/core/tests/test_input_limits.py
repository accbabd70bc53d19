"""Cheap requests that must not cost a 500 (docs/security.md, "Input and queries"): too many
query parameters, JSON nested too deep, NUL characters, a body that is not an object."""

import json

import pytest
from django.conf import settings

from apps.core.parsers import MAX_JSON_DEPTH, nesting_depth
from apps.jobs.models import Job
from apps.memories.models import Memory

pytestmark = pytest.mark.django_db

TOO_MANY = "&".join(f"a{i}=1" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 100))
AT_THE_LIMIT = "&".join(f"a{i}=1" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS))


def assert_error(response, code: str) -> dict:
    assert response.status_code == 400, response.content[:500]
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == code, error
    return error


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "/api/v1/info"),
        ("get", "/api/v1/"),
        ("get", "/api/v1/openapi.json"),
        ("get", "/api/v1/memories"),
        ("get", "/api/v1/users/search"),
        ("get", "/api/v1/jobs"),
        ("get", "/api/v1/no-such-path"),
        ("post", "/api/v1/auth/login"),
        ("post", "/api/v1/memories"),
    ],
)
def test_more_than_1000_query_parameters_are_a_400_on_every_api_path(auth_client, method, path):
    response = getattr(auth_client, method)(f"{path}?{TOO_MANY}")

    error = assert_error(response, "VALIDATION_ERROR")
    assert "1000" in error["message"]


@pytest.mark.parametrize("debug", [False, True], ids=["production", "debug"])
@pytest.mark.parametrize(
    "path",
    ["/health", "/health/live", "/health/ready", "/docs", "/redoc", "/admin/login/", "/nope"],
)
def test_more_than_1000_query_parameters_are_a_400_outside_the_api_too(
    api_client, settings, path, debug
):
    # Under DEBUG, Django's own 400 page read the parameters again and ended in a 500.
    settings.DEBUG = debug
    error = assert_error(api_client.get(f"{path}?{TOO_MANY}"), "VALIDATION_ERROR")
    assert "1000" in error["message"]


@pytest.mark.parametrize("path", ["/health", "/docs", "/admin/login/"])
def test_a_nul_in_the_query_string_is_a_400_naming_it_outside_the_api_too(api_client, path):
    error = assert_error(api_client.get(f"{path}?q=a%00b"), "VALIDATION_ERROR")
    assert error["details"][0]["field"] == "q"


def test_1000_query_parameters_are_still_fine(api_client):
    assert api_client.get(f"/api/v1/info?{AT_THE_LIMIT}").status_code == 200


def nested(depth: int, leaf: str = "1") -> str:
    """`depth` levels of containers: arrays, with an object in the middle."""
    outer = depth // 2
    inner = depth - outer - 1
    return "[" * outer + '{"k": ' + "[" * inner + leaf + "]" * inner + "}" + "]" * outer


@pytest.mark.parametrize("body", ["[" * 1000 + "]" * 1000, "[" * 100_000, '{"a": ' * 5000])
@pytest.mark.parametrize("path", ["/api/v1/auth/login", "/api/v1/memories", "/api/v1/jobs/test"])
def test_json_nested_far_too_deep_is_a_parse_error(auth_client, path, body):
    response = auth_client.post(path, body, content_type="application/json")

    error = assert_error(response, "PARSE_ERROR")
    assert str(MAX_JSON_DEPTH) in error["message"]


def test_json_nested_64_deep_is_accepted_and_65_is_not(auth_client):
    # The body is one level, metadata one more: the rest is metadata's value.
    accepted = f'{{"content": "deep", "metadata": {{"v": {nested(MAX_JSON_DEPTH - 2)}}}}}'
    refused = f'{{"content": "deep", "metadata": {{"v": {nested(MAX_JSON_DEPTH - 1)}}}}}'

    created = auth_client.post("/api/v1/memories", accepted, content_type="application/json")
    too_deep = auth_client.post("/api/v1/memories", refused, content_type="application/json")

    assert created.status_code == 201, created.json()
    assert_error(too_deep, "PARSE_ERROR")
    assert Memory.objects.count() == 1


def test_brackets_inside_strings_do_not_count_as_nesting(auth_client):
    body = {"content": "[" * 500 + '{"\\"' * 100, "tags": ["]" * 50, "{" * 50]}

    response = auth_client.post("/api/v1/memories", body, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["data"]["content"] == body["content"]


@pytest.mark.parametrize(
    "text, depth",
    [
        ("1", 0),
        ("{}", 1),
        ('[[], {"a": [[]]}]', 4),
        ('["[[[[", {"]": "\\"[["}]', 2),
        ('"\\\\"', 0),
        ('["\\\\", [["\\\\\\"]"]]]', 3),
    ],
)
def test_nesting_depth_counts_containers_outside_strings(text, depth):
    json.loads(text)  # the cases are valid JSON
    assert nesting_depth(text) == depth


@pytest.mark.parametrize("body", ["[]", '"x"', "1", "null", "true", "[{}]"])
@pytest.mark.parametrize(
    "method, path",
    [
        ("post", "/api/v1/memories"),
        ("post", "/api/v1/auth/login"),
        ("post", "/api/v1/jobs/test"),
        ("patch", "/api/v1/users/me"),
    ],
)
def test_a_json_body_that_is_not_an_object_is_a_parse_error(auth_client, method, path, body):
    response = getattr(auth_client, method)(path, body, content_type="application/json")

    assert_error(response, "PARSE_ERROR")


NUL = "\u0000"


@pytest.mark.parametrize(
    "path, body, field",
    [
        ("/api/v1/memories", {"content": f"a{NUL}b"}, "content"),
        ("/api/v1/memories", {"content": "x", "metadata": {"source": NUL}}, "metadata.source"),
        ("/api/v1/memories", {"content": "x", "metadata": {"a": [{"b": NUL}]}}, "metadata.a.0.b"),
        ("/api/v1/memories", {"content": "x", "metadata": {f"k{NUL}": 1}}, f"metadata.k{NUL}"),
        ("/api/v1/memories", {"content": "x", "tags": ["ok", f"{NUL}"]}, "tags.1"),
        ("/api/v1/jobs/test", {"payload": {"deep": {"er": [f"{NUL}"]}}}, "payload.deep.er.0"),
        ("/api/v1/jobs/test", {"payload": {NUL: "v"}}, f"payload.{NUL}"),
        ("/api/v1/auth/login", {"email": f"ann{NUL}@example.com", "password": "x"}, "email"),
        ("/api/v1/auth/register", {"email": "n@x.io", "password": f"Ab{NUL}42-x"}, "password"),
    ],
)
def test_nul_characters_in_a_json_body_are_a_400_naming_the_field(auth_client, path, body, field):
    response = auth_client.post(path, body, format="json")

    error = assert_error(response, "VALIDATION_ERROR")
    assert [d["field"] for d in error["details"]] == [field]
    assert not Memory.objects.exists()
    assert not Job.objects.exists()


def test_nul_characters_in_a_patch_of_metadata_are_a_400(auth_client):
    created = auth_client.post("/api/v1/memories", {"content": "x"}, format="json")
    memory_id = created.json()["data"]["id"]

    response = auth_client.patch(
        f"/api/v1/memories/{memory_id}", {"metadata": {"n": f"a{NUL}"}}, format="json"
    )

    assert [d["field"] for d in assert_error(response, "VALIDATION_ERROR")["details"]] == [
        "metadata.n"
    ]
    assert Memory.objects.get().metadata == {}


def test_an_escaped_backslash_before_u0000_is_plain_text(auth_client):
    body = '{"content": "C:\\\\u0000 is a path", "metadata": {"p": "\\\\u0000"}}'

    response = auth_client.post("/api/v1/memories", body, content_type="application/json")

    assert response.status_code == 201, response.json()
    assert response.json()["data"]["metadata"] == {"p": "\\u0000"}


@pytest.mark.parametrize(
    "path, query, field",
    [
        ("/api/v1/memories", "q=a%00", "q"),
        ("/api/v1/memories", "tag=%00", "tag"),
        ("/api/v1/memories", "memory_type=note%00", "memory_type"),
        ("/api/v1/jobs", "name=%00x", "name"),
        ("/api/v1/users/search", "q=ann%00", "q"),
        ("/api/v1/info", "x%00y=1", f"x{NUL}y"),
    ],
)
def test_nul_characters_in_a_query_parameter_are_a_400_naming_it(auth_client, path, query, field):
    response = auth_client.get(f"{path}?{query}")

    error = assert_error(response, "VALIDATION_ERROR")
    assert [d["field"] for d in error["details"]] == [field]


def test_nul_characters_in_an_admin_search_are_a_400_not_a_500(admin_client):
    assert admin_client.get("/admin/memories/memory/?q=a%00").status_code == 400
