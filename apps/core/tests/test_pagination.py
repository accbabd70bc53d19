"""Pagination edge cases (docs/api.md, "Envelope"), on a list of 45 numbers."""

import pytest

pytestmark = pytest.mark.urls("apps.core.tests.urls")

URL = "/api/v1/test/numbers"


def page(api_client, query: str = "") -> dict:
    response = api_client.get(f"{URL}{query}")
    assert response.status_code == 200, response.content
    return response.json()


def test_defaults_are_first_page_of_twenty(api_client):
    body = page(api_client)
    assert body["meta"] == {"page": 1, "per_page": 20, "total": 45, "total_pages": 3}
    assert body["data"] == list(range(1, 21))


def test_last_partial_page(api_client):
    body = page(api_client, "?page=3")
    assert body["data"] == list(range(41, 46))
    assert body["meta"]["page"] == 3


def test_limit_is_an_alias_of_per_page(api_client):
    assert page(api_client, "?limit=5&page=2")["data"] == [6, 7, 8, 9, 10]


def test_per_page_wins_over_limit(api_client):
    assert page(api_client, "?limit=5&per_page=10")["meta"]["per_page"] == 10


def test_per_page_over_the_max_is_clamped(api_client, settings):
    settings.MAX_PAGE_SIZE = 30
    body = page(api_client, "?per_page=1000")
    assert body["meta"] == {"page": 1, "per_page": 30, "total": 45, "total_pages": 2}
    assert len(body["data"]) == 30


def test_page_past_the_last_is_empty_not_an_error(api_client):
    body = page(api_client, "?page=99")
    assert body["data"] == []
    assert body["meta"] == {"page": 99, "per_page": 20, "total": 45, "total_pages": 3}


def test_total_pages_is_zero_for_an_empty_list(api_client, monkeypatch):
    from apps.core.pagination import EnvelopePagination

    paginator = EnvelopePagination()
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    request = Request(APIRequestFactory().get("/"))
    assert paginator.paginate_queryset([], request) == []
    assert paginator.meta == {"page": 1, "per_page": 20, "total": 0, "total_pages": 0}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=abc", "page"),
        ("per_page=0", "per_page"),
        ("per_page=x", "per_page"),
        ("limit=-5", "limit"),
        ("page=1.5", "page"),
    ],
)
def test_bad_values_are_validation_errors_naming_the_field(api_client, query, field):
    response = api_client.get(f"{URL}?{query}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert error["details"][0]["field"] == field


def test_unordered_queryset_is_refused():
    from django.contrib.auth import get_user_model
    from django.core.exceptions import ImproperlyConfigured
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from apps.core.pagination import EnvelopePagination

    queryset = get_user_model().objects.order_by()
    with pytest.raises(ImproperlyConfigured):
        EnvelopePagination().paginate_queryset(queryset, Request(APIRequestFactory().get("/")))
