"""The hottest reads and writes, with their statements built once per process.

The ORM compiles a statement anew on every `save()`, `.first()` or `.update()`; on the
writes and reads every create and every job makes (a memory and its job row inserted, the
job's row and its memory read and written by the worker), the compilation and its
bookkeeping cost more than the statement itself (bench/RESULTS.md). What the ORM would do
is kept: the same SQL, the same value preparation and conversion. Signals are not sent: use
these only for models that have no receivers. On PostgreSQL the server prepares each of these
statements once per connection (`statement_cursor`).
"""

import functools
from collections.abc import Iterable
from typing import Any, NamedTuple, TypeVar

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper

M = TypeVar("M", bound=models.Model)


def statement_cursor(wrapper: BaseDatabaseWrapper | None = None) -> CursorWrapper:
    """The cursor for a statement whose text is built once per process: on PostgreSQL one
    the server prepares (apps/core/postgresql), elsewhere the usual one."""
    wrapper = wrapper if wrapper is not None else connections[DEFAULT_DB_ALIAS]
    prepared = getattr(wrapper, "prepared_cursor", None)
    return prepared() if prepared is not None else wrapper.cursor()


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
    # The wrapper itself, not the `connection` proxy: each field reads it several times.
    wrapper = connections[DEFAULT_DB_ALIAS]
    params = [field.get_db_prep_save(field.pre_save(instance, True), wrapper) for field in fields]
    with statement_cursor(wrapper) as cursor:
        cursor.execute(sql, params)
    instance._state.adding = False
    instance._state.db = wrapper.alias
    return instance


class _CompiledRead(NamedTuple):
    sql: str
    compiler: Any
    converters: dict[int, Any]
    names: list[str]


@functools.cache
def _read_statement(model: type[models.Model], fields: tuple[str, ...]) -> _CompiledRead:
    queryset = model._default_manager.only(*fields)
    queryset.query.clear_ordering(force=True)
    compiler = queryset.query.get_compiler(DEFAULT_DB_ALIAS)
    sql, _ = compiler.as_sql()
    quote = connection.ops.quote_name
    sql += f" WHERE {quote(model._meta.db_table)}.{quote(model._meta.pk.column)} = %s"
    columns = [column for column, _, _ in compiler.select]
    return _CompiledRead(
        sql, compiler, compiler.get_converters(columns), [c.target.attname for c in columns]
    )


def get_by_pk(model: type[M], pk: Any, fields: Iterable[str]) -> M | None:
    """The row `pk` of `model` with only `fields` loaded (deferred ones load on access, as
    with `.only()`), or None."""
    read = _read_statement(model, tuple(fields))
    wrapper = connections[DEFAULT_DB_ALIAS]
    with statement_cursor(wrapper) as cursor:
        cursor.execute(read.sql, [model._meta.pk.get_db_prep_value(pk, wrapper)])
        rows = cursor.fetchall()
    if not rows:
        return None
    if read.converters:
        rows = list(read.compiler.apply_converters(rows, read.converters))
    return model.from_db(DEFAULT_DB_ALIAS, read.names, rows[0])


@functools.cache
def _update_statement(
    model: type[models.Model], columns: tuple[str, ...], where: tuple[str, ...]
) -> str:
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(column)} = %s" for column in columns)
    conditions = " AND ".join(f"{quote(column)} = %s" for column in where)
    return f"UPDATE {quote(model._meta.db_table)} SET {assignments} WHERE {conditions}"


def update_where(model: type[models.Model], where: dict[str, Any], **values: Any) -> int:
    """`model.objects.filter(**where).update(**values)` for equality conditions, built once
    per shape: the number of rows changed. As with `.update()`, `auto_now` fields are not
    touched unless given."""
    meta = model._meta
    wrapper = connections[DEFAULT_DB_ALIAS]
    set_fields = [meta.get_field(name) for name in values]
    where_fields = [meta.pk if name == "pk" else meta.get_field(name) for name in where]
    sql = _update_statement(
        model, tuple(f.column for f in set_fields), tuple(f.column for f in where_fields)
    )
    params = [
        f.get_db_prep_save(value, wrapper)
        for f, value in zip(set_fields, values.values(), strict=True)
    ]
    params += [
        f.get_db_prep_value(value, wrapper, prepared=False)
        for f, value in zip(where_fields, where.values(), strict=True)
    ]
    with statement_cursor(wrapper) as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
