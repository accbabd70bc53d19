"""Every index of our tables, as the migrations build them, earns its writes: none is only
the leading columns of another, which serves the same lookups. (Django's own tables, such as
a user's groups, are Django's to shape.)"""

import pytest
from django.apps import apps
from django.db import connection

pytestmark = pytest.mark.django_db

OUR_APPS = ("core", "users", "jobs", "memories")


def _constraints(table: str) -> dict[str, dict]:
    with connection.cursor() as cursor:
        return connection.introspection.get_constraints(cursor, table)


def _redundant(table: str) -> list[str]:
    constraints = _constraints(table)
    indexes = {
        name: tuple(info["columns"])
        for name, info in constraints.items()
        if (info["index"] or info["unique"]) and info["columns"]
    }
    found = []
    for name, columns in indexes.items():
        if constraints[name]["unique"] or constraints[name]["primary_key"]:
            continue  # they enforce something besides serving lookups
        if name.endswith("_like"):
            continue  # PostgreSQL's copy for LIKE (pattern ops), which no other serves
        for other, other_columns in indexes.items():
            if other != name and other_columns[: len(columns)] == columns:
                found.append(f"{table}.{name} {columns} leads {other} {other_columns}")
    return found


def test_no_index_is_only_the_leading_columns_of_another():
    tables = {
        model._meta.db_table
        for label in OUR_APPS
        for model in apps.get_app_config(label).get_models()
        if model._meta.managed
    }
    assert {"jobs_job", "memories_memory", "users_user"} <= tables
    assert [found for table in sorted(tables) for found in _redundant(table)] == []
