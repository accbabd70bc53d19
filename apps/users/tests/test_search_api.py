"""User search: active accounts, public fields only (docs/api.md, "Accounts")."""

import pytest

from apps.users.models import User

pytestmark = pytest.mark.django_db

SEARCH = "/api/v1/users/search"
PUBLIC = {"id", "display_name", "avatar_url", "first_name", "last_name"}


@pytest.fixture
def people(db):
    return {
        "carol": User.objects.create(
            email="carol@acme.test", display_name="Carol", first_name="Carol", last_name="King"
        ),
        "dave": User.objects.create(
            email="dave@other.test", display_name="DJ", first_name="David", last_name="Acme"
        ),
        "erin": User.objects.create(email="erin@acme.test", display_name="Erin", is_active=False),
        "frank": User.objects.create(email="frank@else.test", display_name="Frankie ACME"),
    }


def search(client, **params):
    return client.get(SEARCH, params)


def names(response) -> set:
    assert response.status_code == 200, response.content
    return {item["display_name"] for item in response.json()["data"]}


def test_search_matches_display_first_and_last_name_by_substring_in_any_case(auth_client, people):
    assert names(search(auth_client, q="acme")) == {"DJ", "Frankie ACME"}
    assert names(search(auth_client, q="KING")) == {"Carol"}
    assert names(search(auth_client, q="avi")) == {"DJ"}
    assert names(search(auth_client, q="rank")) == {"Frankie ACME"}


@pytest.mark.parametrize("q", ["dave@other.test", "DAVE@Other.Test", " dave@other.test "])
def test_search_matches_an_email_only_as_the_whole_address_in_any_case(auth_client, people, q):
    assert names(search(auth_client, q=q)) == {"DJ"}


@pytest.mark.parametrize(
    "q", ["@", "dave@", "@other.test", "dave@other", "ave@other.test", ".test"]
)
def test_search_never_matches_a_fragment_of_an_email(auth_client, people, q):
    assert names(search(auth_client, q=q)) == set()


def test_search_skips_inactive_users(auth_client, people):
    assert "Erin" not in names(search(auth_client, q="erin"))


def test_search_returns_public_fields_only(auth_client, people):
    response = search(auth_client, q="carol")
    for item in response.json()["data"]:
        assert set(item) == PUBLIC
    assert "carol@acme.test" not in response.content.decode()


def test_search_is_a_list_with_meta(auth_client, people):
    body = search(auth_client, q="acme").json()
    assert body["meta"] == {"page": 1, "per_page": 10, "total": 2, "total_pages": 1}


def test_search_treats_like_wildcards_as_text(auth_client, people):
    assert names(search(auth_client, q="%")) == set()
    assert names(search(auth_client, q="_")) == set()


@pytest.mark.parametrize("params", [{}, {"q": ""}, {"q": "x" * 101}])
def test_search_needs_a_query_of_1_to_100_characters(auth_client, params):
    response = auth_client.get(SEARCH, params)
    assert response.status_code == 400
    assert [d["field"] for d in response.json()["error"]["details"]] == ["q"]


def test_search_limit_defaults_to_10_and_is_capped_at_50(auth_client):
    User.objects.bulk_create(
        User(email=f"member{i}@crowd.test", display_name=f"Crowd member {i:02}") for i in range(60)
    )
    assert len(search(auth_client, q="crowd").json()["data"]) == 10
    assert len(search(auth_client, q="crowd", limit=5).json()["data"]) == 5
    body = search(auth_client, q="crowd", limit=500).json()
    assert len(body["data"]) == 50
    assert body["meta"]["per_page"] == 50


@pytest.mark.parametrize("limit", ["0", "-1", "ten"])
def test_search_rejects_bad_limits(auth_client, limit):
    response = search(auth_client, q="a", limit=limit)
    assert response.status_code == 400
    assert response.json()["error"]["details"][0]["field"] == "limit"


def test_search_needs_authentication(api_client):
    assert api_client.get(SEARCH, {"q": "a"}).status_code == 401


def test_the_schema_says_an_email_matches_only_whole(api_client):
    operation = api_client.get("/api/v1/openapi.json").json()["paths"][SEARCH]["get"]
    q = next(p for p in operation["parameters"] if p["name"] == "q")

    assert "whole email address" in q["description"]
    assert "email" not in operation["summary"].replace("whole email address", "")
