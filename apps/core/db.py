"""One row inserted the way the ORM would, with its statement built once per model.

The ORM compiles an INSERT anew on every `save()`; on the hottest writes (a job row for
every enqueue, a memory for every create) the compilation and its bookkeeping cost more
than the statement (bench/RESULTS.md). Signals are not sent: use it only for models that
have no receivers.
"""

import functools
from typing import TypeVar

from django.db import connection, models

M = TypeVar("M", bound=models.Model)


@functools.cache
def _insert_statement(model: type[models.Model]) -> tuple[str, tuple[models.Field, ...]]:
    fields = tuple(model._meta.concrete_fields)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    return f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({placeholders})", fields


def insert(instance: M) -> M:
    """INSERT `instance` (its primary key set already, as our UUID keys are) and mark it
    saved; automatic fields (`auto_now_add`, `auto_now`) are filled as `save()` fills them."""
    sql, fields = _insert_statement(type(instance))
    params = [
        field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
    instance._state.adding = False
    instance._state.db = connection.alias
    return instance
