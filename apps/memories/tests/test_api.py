"""Memories CRUD, validation, filters and ownership (docs/api.md, "Memories")."""

import pytest

from apps.memories.tests.conftest import URL

pytestmark = pytest.mark.django_db(transaction=True)


def error_fields(response) -> set[str]:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    return {detail["field"] for detail in error["details"]}


def test_create_read_update_delete_round_trip(owner_client):
    created = owner_client.post(
        URL,
        {"content": "  Test memory \n", "memory_type": "fact", "tags": ["a"], "metadata": {"k": 1}},
        format="json",
    )
    assert created.status_code == 201
    memory = created.json()["data"]
    assert memory["content"] == "Test memory"
    assert memory["memory_type"] == "fact"
    assert memory["tags"] == ["a"] and memory["metadata"] == {"k": 1}
    assert memory["embedding_status"] == "pending"
    assert set(memory) == {
        "id", "content", "memory_type", "metadata", "tags", "embedding_status",
        "created_at", "updated_at",
    }  # fmt: skip

    detail = owner_client.get(f"{URL}/{memory['id']}").json()["data"]
    assert detail == memory

    patched = owner_client.patch(f"{URL}/{memory['id']}", {"tags": ["b"]}, format="json")
    assert patched.status_code == 200
    assert patched.json()["data"]["tags"] == ["b"]
    assert patched.json()["data"]["memory_type"] == "fact"

    assert owner_client.delete(f"{URL}/{memory['id']}").status_code == 204
    assert owner_client.get(f"{URL}/{memory['id']}").status_code == 404


def test_default_type_is_note(owner_client):
    response = owner_client.post(URL, {"content": "Test memory"}, format="json")
    assert response.json()["data"]["memory_type"] == "note"


def test_put_resets_the_optional_fields_it_omits(owner_client, make_memory):
    memory = make_memory(memory_type="task", tags=["x"], metadata={"a": 1})
    response = owner_client.put(f"{URL}/{memory.pk}", {"content": "new"}, format="json")
    assert response.status_code == 200
    data = response.json()["data"]
    assert (data["content"], data["memory_type"], data["tags"], data["metadata"]) == (
        "new", "note", [], {},
    )  # fmt: skip


def test_put_requires_content(owner_client, make_memory):
    memory = make_memory()
    assert error_fields(owner_client.put(f"{URL}/{memory.pk}", {"tags": []}, format="json")) == {
        "content"
    }


def test_patch_keeps_what_it_omits(owner_client, make_memory):
    memory = make_memory(content="keep me", memory_type="event", tags=["t"])
    data = owner_client.patch(f"{URL}/{memory.pk}", {"metadata": {"m": True}}, format="json")
    data = data.json()["data"]
    assert (data["content"], data["memory_type"], data["tags"]) == ("keep me", "event", ["t"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "content"),
        ({"content": "   "}, "content"),
        ({"content": "x" * 10_001}, "content"),
        ({"content": "x", "memory_type": "poem"}, "memory_type"),
        ({"content": "x", "metadata": [1, 2]}, "metadata"),
        ({"content": "x", "metadata": "text"}, "metadata"),
        ({"content": "x", "metadata": {"big": "y" * 16_400}}, "metadata"),
        ({"content": "x", "tags": [f"t{i}" for i in range(21)]}, "tags"),
        ({"content": "x", "tags": ["ok", ""]}, "tags.1"),
        ({"content": "x", "tags": ["ok", "z" * 51]}, "tags.1"),
        ({"content": "x", "tags": "not-a-list"}, "tags"),
    ],
)
def test_invalid_input_is_a_400_naming_the_field(owner_client, body, field):
    assert field in error_fields(owner_client.post(URL, body, format="json"))


@pytest.mark.parametrize(
    "body",
    [
        {"content": "x" * 10_000},
        {"content": "x", "tags": [f"t{i}" for i in range(20)]},
        {"content": "x", "tags": ["z" * 50]},
        {"content": "x", "metadata": {"big": "y" * (16 * 1024 - 12)}},
    ],
)
def test_values_at_their_bound_are_accepted(owner_client, body):
    response = owner_client.post(URL, body, format="json")
    assert response.status_code == 201, response.content


def test_list_is_paginated_newest_first(owner_client, make_memory):
    for index in range(25):
        make_memory(content=f"memory {index}")
    body = owner_client.get(f"{URL}?per_page=10&page=3").json()
    assert body["meta"] == {"page": 3, "per_page": 10, "total": 25, "total_pages": 3}
    assert [m["content"] for m in body["data"]] == [f"memory {i}" for i in range(4, -1, -1)]


def test_filtered_lists_carry_pagination_meta_of_the_filtered_set(owner_client, make_memory):
    for index in range(25):
        make_memory(content=f"memory {index}", tags=["even"] if index % 2 == 0 else [])
    body = owner_client.get(f"{URL}?tag=even&per_page=10&page=2").json()
    assert body["meta"] == {"page": 2, "per_page": 10, "total": 13, "total_pages": 2}
    assert len(body["data"]) == 3
    assert all(m["tags"] == ["even"] for m in body["data"])


def test_filters_by_type_tag_and_text(owner_client, make_memory):
    make_memory(content="Buy cat food", memory_type="task", tags=["cat", "shopping"])
    make_memory(content="The cat sleeps", memory_type="note", tags=["cat"])
    make_memory(content="File taxes", memory_type="task", tags=["money"])

    def contents(query: str) -> list[str]:
        body = owner_client.get(f"{URL}?{query}").json()
        assert body["meta"]["total"] == len(body["data"])
        return sorted(m["content"] for m in body["data"])

    assert contents("memory_type=task") == ["Buy cat food", "File taxes"]
    assert contents("tag=cat") == ["Buy cat food", "The cat sleeps"]
    assert contents("tag=ca") == []
    assert contents("q=CAT") == ["Buy cat food", "The cat sleeps"]
    assert contents("memory_type=task&tag=cat") == ["Buy cat food"]


def test_created_after_is_inclusive_and_created_before_exclusive(owner_client, make_memory):
    from datetime import timedelta

    first, second, third = (make_memory(content=c) for c in ("one", "two", "three"))
    base = second.created_at
    for memory, offset in ((first, -1), (second, 0), (third, 1)):
        type(memory).objects.filter(pk=memory.pk).update(created_at=base + timedelta(hours=offset))
    stamp = base.isoformat().replace("+00:00", "Z")
    after = owner_client.get(URL, {"created_after": stamp}).json()["data"]
    before = owner_client.get(URL, {"created_before": stamp}).json()["data"]
    assert sorted(m["content"] for m in after) == ["three", "two"]
    assert [m["content"] for m in before] == ["one"]


def test_ordering(owner_client, make_memory):
    a, b, c = (make_memory(content=c) for c in "abc")
    owner_client.patch(f"{URL}/{a.pk}", {"tags": ["touched"]}, format="json")

    def order(value: str) -> list[str]:
        return [m["content"] for m in owner_client.get(f"{URL}?ordering={value}").json()["data"]]

    assert order("created_at") == ["a", "b", "c"]
    assert order("-created_at") == ["c", "b", "a"]
    assert order("-updated_at")[0] == "a"
    assert order("updated_at")[-1] == "a"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("memory_type=poem", "memory_type"),
        ("ordering=content", "ordering"),
        ("ordering=-id", "ordering"),
        ("created_after=yesterday", "created_after"),
        ("created_before=2026-13-01", "created_before"),
        ("page=0", "page"),
    ],
)
def test_bad_filter_values_are_400_not_an_empty_list(owner_client, query, field):
    assert field in error_fields(owner_client.get(f"{URL}?{query}"))


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_another_users_memory_is_not_found(client_for, stranger, make_memory, method):
    memory = make_memory(content="private")
    client = client_for(stranger)
    call = getattr(client, method)
    response = (
        call(f"{URL}/{memory.pk}", {"content": "mine now"}, format="json")
        if method in ("put", "patch")
        else call(f"{URL}/{memory.pk}")
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"
    memory.refresh_from_db()
    assert memory.content == "private"


def test_another_users_memory_is_absent_from_lists_and_similar(client_for, stranger, make_memory):
    memory = make_memory(content="private")
    client = client_for(stranger)
    assert client.get(URL).json()["meta"]["total"] == 0
    assert client.get(f"{URL}/{memory.pk}/similar").status_code == 404


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_unknown_ids_are_not_found(owner_client, bad_id):
    assert owner_client.get(f"{URL}/{bad_id}").status_code == 404


def test_anonymous_callers_are_refused(api_client):
    assert api_client.get(URL).status_code == 401
    assert api_client.post(URL, {"content": "x"}, format="json").status_code == 401


def test_browsable_api_renders_list_and_detail_with_their_forms(owner_client, make_memory):
    memory = make_memory(content="shown in html")
    response = owner_client.get(URL, HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    html = response.content.decode()
    assert "shown in html" in html
    # The API takes JSON only, so the browsable API's form is its JSON ("raw data") form,
    # pre-filled with the memory's fields.
    assert 'name="_content"' in html and "memory_type" in html, "the create form"
    assert "Memory List" in html
    detail = owner_client.get(f"{URL}/{memory.pk}", HTTP_ACCEPT="text/html").content.decode()
    assert "shown in html" in detail
    assert 'name="_content"' in detail, "the edit form"
    assert "DELETE" in detail
