"""Cached reads: MISS then HIT, fresh after every write, never shared across users, and
BYPASS (still correct) with Redis down (docs/api.md, "Cache and events")."""

import pytest
from django.contrib.admin.sites import site

from apps.memories.models import Memory
from apps.memories.tests.conftest import URL

pytestmark = pytest.mark.django_db(transaction=True)


def read(client, path: str = URL, **params):
    response = client.get(path, params)
    assert response.status_code == 200, response.content
    return response["X-Cache"], response.json()


def test_list_miss_then_hit(owner_client, make_memory):
    make_memory(content="cached")
    first_status, first = read(owner_client)
    second_status, second = read(owner_client)
    assert (first_status, second_status) == ("MISS", "HIT")
    assert first == second


def test_every_query_has_its_own_entry(owner_client, make_memory):
    make_memory(content="a", tags=["t"])
    make_memory(content="b")
    assert read(owner_client)[0] == "MISS"
    status, body = read(owner_client, tag="t")
    assert status == "MISS" and [m["content"] for m in body["data"]] == ["a"]
    assert read(owner_client, per_page=1)[0] == "MISS"
    assert read(owner_client, per_page=1, page=2)[0] == "MISS"
    assert read(owner_client, ordering="created_at")[0] == "MISS"
    assert read(owner_client, tag="t")[0] == "HIT"


def test_detail_miss_then_hit(owner_client, make_memory):
    memory = make_memory(content="detail")
    path = f"{URL}/{memory.pk}"
    assert read(owner_client, path)[0] == "MISS"
    assert read(owner_client, path)[0] == "HIT"


@pytest.mark.parametrize("write", ["create", "patch", "put", "delete"])
def test_an_api_write_makes_the_next_read_fresh(owner_client, make_memory, write):
    memory = make_memory(content="before")
    detail = f"{URL}/{memory.pk}"
    read(owner_client), read(owner_client, detail)
    assert read(owner_client)[0] == "HIT"

    if write == "create":
        owner_client.post(URL, {"content": "added"}, format="json")
    elif write == "patch":
        owner_client.patch(detail, {"content": "after"}, format="json")
    elif write == "put":
        owner_client.put(detail, {"content": "after"}, format="json")
    else:
        owner_client.delete(detail)

    status, body = read(owner_client)
    assert status == "MISS"
    contents = [m["content"] for m in body["data"]]
    expected = {"create": ["added", "before"], "patch": ["after"], "put": ["after"], "delete": []}
    assert contents == expected[write]
    if write != "delete":
        assert read(owner_client, detail)[0] == "MISS"


def test_an_admin_edit_makes_the_next_read_fresh(owner_client, make_memory, staff_client):
    memory = make_memory(content="before")
    read(owner_client)
    assert read(owner_client)[0] == "HIT"
    response = staff_client.post(
        f"/admin/memories/memory/{memory.pk}/change/",
        {"content": "edited in admin", "memory_type": "note", "metadata": "{}", "tags": "[]"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    status, body = read(owner_client)
    assert status == "MISS"
    assert body["data"][0]["content"] == "edited in admin"


def test_an_admin_delete_makes_the_next_read_fresh(owner_client, make_memory, staff_client):
    memory = make_memory(content="doomed")
    read(owner_client)
    response = staff_client.post(f"/admin/memories/memory/{memory.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert read(owner_client)[1]["data"] == []
    assert "memories.memory" in {m._meta.label_lower for m in site._registry}


def test_a_cached_page_of_one_user_never_reaches_another(client_for, owner, stranger, make_memory):
    make_memory(content="owner's secret")
    owner_status, owner_body = read(client_for(owner))
    stranger_status, stranger_body = read(client_for(stranger))
    assert owner_body["meta"]["total"] == 1
    assert stranger_status == "MISS"
    assert stranger_body["data"] == [] and stranger_body["meta"]["total"] == 0


def test_one_users_write_does_not_invalidate_anothers_cache(client_for, owner, stranger):
    read(client_for(stranger))
    client_for(owner).post(URL, {"content": "mine"}, format="json")
    assert read(client_for(stranger))[0] == "HIT"


def test_crud_is_correct_and_uncached_with_redis_down(owner_client, redis_down):
    created = owner_client.post(URL, {"content": "no redis"}, format="json")
    assert created.status_code == 201
    memory_id = created.json()["data"]["id"]
    status, body = read(owner_client)
    assert status == "BYPASS"
    assert [m["content"] for m in body["data"]] == ["no redis"]
    status, _ = read(owner_client, f"{URL}/{memory_id}")
    assert status == "BYPASS"
    patched = owner_client.patch(f"{URL}/{memory_id}", {"content": "still fine"}, format="json")
    assert patched.status_code == 200
    assert read(owner_client)[1]["data"][0]["content"] == "still fine"
    assert owner_client.delete(f"{URL}/{memory_id}").status_code == 204
    assert Memory.objects.count() == 0
