"""What the contract fuzzing found (tests/system/test_fuzz_contract.py), pinned down: input
the schema does not allow is a 400 naming the field, never converted, stored or a 500."""

import re

import pytest

from apps.memories.models import Memory

pytestmark = pytest.mark.django_db

HUGE = 2**70


@pytest.mark.parametrize(
    "query, field",
    [
        ("per_page=20&limit=-5", "limit"),
        ("page=" + "9" * 5000, "page"),
        ("per_page=1e3", "per_page"),
    ],
)
@pytest.mark.parametrize("path", ["/api/v1/memories", "/api/v1/jobs"])
def test_page_numbers_that_are_not_positive_integers_are_a_400_naming_the_field(
    auth_client, path, query, field
):
    response = auth_client.get(f"{path}?{query}")

    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == field


@pytest.mark.parametrize("path", ["/api/v1/memories", "/api/v1/jobs", "/api/v1/users/search?q=a"])
@pytest.mark.parametrize("size", ["per_page", "limit"])
def test_a_page_size_of_any_magnitude_is_clamped_to_the_maximum(auth_client, path, size):
    joiner = "&" if "?" in path else "?"
    response = auth_client.get(f"{path}{joiner}{size}={HUGE}")

    assert response.status_code == 200
    assert response.json()["meta"]["per_page"] == (50 if "search" in path else 100)


@pytest.mark.parametrize("path", ["/api/v1/memories", "/api/v1/jobs"])
def test_a_page_number_of_any_magnitude_is_an_empty_page(auth_client, user, path):
    Memory.objects.create(owner=user, content="one")
    response = auth_client.get(f"{path}?page={HUGE}&per_page=100")

    assert response.status_code == 200
    assert response.json()["data"] == []
    assert response.json()["meta"]["page"] == HUGE
    assert response.json()["meta"]["per_page"] == 100


@pytest.mark.parametrize(
    "path, body, field",
    [
        ("/api/v1/memories", '{"content": "x", "metadata": {"n": 1e999}}', "metadata"),
        ("/api/v1/memories", '{"content": "\\udead"}', "content"),
        ("/api/v1/memories", '{"content": "x", "metadata": {"k": "\\ud800"}}', "metadata"),
        ("/api/v1/memories", {"content": "x", "metadata": [1]}, "metadata"),
        ("/api/v1/memories", {"content": 5}, "content"),
        ("/api/v1/memories", {"content": "x", "tags": [1]}, "tags.0"),
        ("/api/v1/jobs/test", '{"payload": {"deep": [-1e999]}}', "payload"),
        ("/api/v1/jobs/test", {"payload": None}, "payload"),
        ("/api/v1/jobs/test", {"fail": 0}, "fail"),
        ("/api/v1/jobs/test", {"duration": True}, "duration"),
        ("/api/v1/jobs/test", {"duration": "1"}, "duration"),
    ],
)
def test_bodies_the_schema_refuses_are_a_400_naming_the_field(auth_client, path, body, field):
    if isinstance(body, str):
        response = auth_client.post(path, body, content_type="application/json")
    else:
        response = auth_client.post(path, body, format="json")

    assert response.status_code == 400, response.json()
    assert [d["field"] for d in response.json()["error"]["details"]] == [field]


def test_integers_beyond_64_bits_in_metadata_are_kept_and_read_back(auth_client):
    created = auth_client.post(
        "/api/v1/memories", {"content": "big", "metadata": {"n": HUGE}}, format="json"
    )
    memory_id = created.json()["data"]["id"]

    listed = [auth_client.get("/api/v1/memories") for _ in range(2)]
    detail = auth_client.get(f"/api/v1/memories/{memory_id}")

    assert created.status_code == 201
    assert [r.json()["data"][0]["metadata"] for r in listed] == [{"n": HUGE}, {"n": HUGE}]
    assert detail.json()["data"]["metadata"] == {"n": HUGE}


def test_a_job_payload_with_a_huge_integer_leaves_the_job_list_readable(auth_client):
    accepted = auth_client.post("/api/v1/jobs/test", {"payload": {"n": HUGE}}, format="json")

    response = auth_client.get("/api/v1/jobs")

    assert accepted.status_code == 202
    assert response.status_code == 200
    assert len(response.json()["data"]) == 1


@pytest.mark.parametrize(
    "body, field",
    [
        ({"last_name": 0}, "last_name"),
        ({"display_name": True}, "display_name"),
        ({"avatar_url": "ftp://example.com/me.png"}, "avatar_url"),
        ({"avatar_url": "https://localhost/me.png"}, "avatar_url"),
        ({"avatar_url": " https://example.com/me.png"}, "avatar_url"),
    ],
)
def test_profile_fields_of_the_wrong_kind_are_a_400(auth_client, body, field):
    response = auth_client.patch("/api/v1/users/me", body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == field


@pytest.mark.parametrize("url", ["", "https://cdn.example.com/a/me.png?size=64", "http://a.io"])
def test_avatar_url_takes_an_http_url_or_empty(auth_client, url):
    response = auth_client.patch("/api/v1/users/me", {"avatar_url": url}, format="json")

    assert response.status_code == 200
    assert response.json()["data"]["avatar_url"] == url


@pytest.mark.parametrize(
    "body, field",
    [({"push_notifications": 0}, "push_notifications"), ({"language": 1}, "language")],
)
def test_preferences_of_the_wrong_kind_are_a_400(auth_client, body, field):
    response = auth_client.patch("/api/v1/users/me/preferences", body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == field


def test_the_schema_documents_what_the_fuzzing_found(api_client):
    schema = api_client.get("/api/v1/openapi.json").json()
    similar = schema["paths"]["/api/v1/memories/{id}/similar"]["get"]["responses"]
    user = schema["components"]["schemas"]["User"]["properties"]
    search = schema["paths"]["/api/v1/users/search"]["get"]["parameters"]

    assert "409" in similar
    assert {"enum": [""]} in user["avatar_url"]["anyOf"]
    assert next(p for p in search if p["name"] == "q")["schema"]["minLength"] == 1
    # Sizes over the maximum are clamped and pages past the last are empty, so no maximum.
    assert next(p for p in search if p["name"] == "page")["schema"] == {
        "type": "integer",
        "minimum": 1,
    }


def test_an_unknown_api_path_with_a_newline_is_a_json_404(auth_client):
    response = auth_client.get("/api/v1/jobs/\n/cancel")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    "path, parameter",
    [
        ("/api/v1/memories", "created_before"),
        ("/api/v1/memories", "created_after"),
        ("/api/v1/memories", "memory_type"),
        ("/api/v1/memories", "ordering"),
        ("/api/v1/jobs", "status"),
    ],
)
def test_a_filter_sent_empty_is_a_400_not_ignored(auth_client, path, parameter):
    response = auth_client.get(f"{path}?{parameter}=")

    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == parameter


@pytest.mark.parametrize("query", ["q=", "tag=", "name="])
def test_an_empty_text_filter_changes_nothing(auth_client, query):
    path = "/api/v1/jobs" if query == "name=" else "/api/v1/memories"

    assert auth_client.get(f"{path}?{query}").status_code == 200


@pytest.mark.parametrize("blank", [" ", "\x1e", "\t\x85 "])
def test_white_space_alone_is_blank_and_the_schema_says_so(auth_client, api_client, blank):
    created = auth_client.post("/api/v1/memories", {"content": blank}, format="json")
    searched = auth_client.get("/api/v1/users/search", {"q": blank})
    schema = api_client.get("/api/v1/openapi.json").json()
    pattern = schema["components"]["schemas"]["MemoryRequest"]["properties"]["content"]["pattern"]

    assert created.status_code == 400
    assert searched.status_code == 400
    assert not re.search(pattern, blank)
    assert re.search(pattern, f"{blank}x")


def test_ordering_takes_one_of_the_listed_fields(auth_client):
    assert auth_client.get("/api/v1/memories?ordering=-updated_at").status_code == 200
    assert auth_client.get("/api/v1/memories?ordering=created_at,updated_at").status_code == 400


@pytest.mark.parametrize(
    "query, status",
    [
        ("created_before=2000-03-28T22:46:27-22:00", 200),
        ("created_after=0754-04-06T23:04:54.2%2B17:28", 200),
        ("created_after=0001-01-01T00:00:00%2B01:00", 400),
    ],
)
def test_dates_with_offsets_postgresql_refuses_are_compared_in_utc(auth_client, query, status):
    assert auth_client.get(f"/api/v1/memories?{query}").status_code == status


def _request_strings(schema: dict) -> list[tuple[str, dict]]:
    """Every string schema a client sends: parameters and request bodies, by where it is."""
    found: list[tuple[str, dict]] = []

    def walk(node, where: str) -> None:
        if isinstance(node, dict):
            if node.get("type") == "string":
                found.append((where, node))
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{where}/{index}")

    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []):
                walk(parameter["schema"], f"{method} {path} {parameter['name']}")
    for name, component in schema["components"]["schemas"].items():
        if name.endswith("Request"):
            walk(component, name)
    return found


def test_the_schema_says_no_string_a_client_sends_may_hold_a_nul(api_client):
    schema = api_client.get("/api/v1/openapi.json").json()
    strings = _request_strings(schema)

    # An email, a date-time or a URI cannot hold a NUL by its definition.
    allowing_nul = [
        where
        for where, string in strings
        if not {"enum", "format"} & set(string)
        and not ("pattern" in string and not re.search(string["pattern"], "a\x00b"))
    ]

    assert len(strings) > 20
    assert allowing_nul == []


def test_the_schema_states_the_length_limits_of_text_filters(api_client):
    schema = api_client.get("/api/v1/openapi.json").json()
    parameters = {
        p["name"]: p["schema"] for p in schema["paths"]["/api/v1/memories"]["get"]["parameters"]
    }

    assert parameters["tag"]["type"] == "string"
    assert parameters["tag"]["maxLength"] == 50
    assert parameters["q"]["maxLength"] == 200


@pytest.mark.parametrize("text", ["x", " x ", "\u3000x", "x\x85"])
def test_the_text_pattern_takes_any_text_with_a_visible_character(api_client, text):
    schema = api_client.get("/api/v1/openapi.json").json()
    pattern = schema["components"]["schemas"]["MemoryRequest"]["properties"]["content"]["pattern"]

    assert re.search(pattern, text)
    assert not re.search(pattern, f"{text}\x00")


def test_a_text_longer_than_its_maxlength_is_refused_even_if_trimming_would_fit(auth_client):
    created = auth_client.post("/api/v1/memories", {"content": " " + "x" * 10_000}, format="json")
    searched = auth_client.get("/api/v1/users/search", {"q": "\x85" + "0" * 100})

    assert created.status_code == 400
    assert created.json()["error"]["details"][0]["field"] == "content"
    assert searched.status_code == 400
    assert searched.json()["error"]["details"][0]["field"] == "q"
