"""Many rows in one statement: on PostgreSQL as one JSON document behind fixed SQL text.

Ingestion writes every batch as a handful of multi-row statements (raw events, runs,
versions, inputs, column lineage, updates of the rows it folded). Through SQLAlchemy's
executemany each row's values become placeholders (insertmanyvalues): a group-commit
batch of 500 events put ~5,500 placeholders in the raw-event INSERT alone, each bound by
SQLAlchemy and adapted by psycopg in Python, and PostgreSQL parsed a new statement text
each time. That one INSERT took 107 ms per 500 events (bench/storeprof) where the same
rows sent as one JSON document and unpacked by `jsonb_to_recordset` take ~36 ms, and the
statement text is the same for every batch. app/slo/bulk.py does the same for SLO passes.

SQLite (in process, no arrays, no JSON round trip to save) keeps ordinary executemany.
Both paths take the same row dicts and mean the same thing, including Python-side column
defaults for columns a row leaves out and RETURNING.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import Table, bindparam, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from app.store.dialect import insert_ignore, is_postgres, upsert

_PG = postgresql.dialect()


def _table(model: Any) -> Table:
    return getattr(model, "__table__", model)


def _pg_type(column: Any) -> str:
    """The recordset column type: `text` for strings, so an over-long value fails the
    INSERT as it would have (a varchar(n) here would truncate it silently)."""
    compiled = column.type.compile(dialect=_PG)
    if compiled.startswith("VARCHAR"):
        return "text"
    if compiled == "TIMESTAMP WITH TIME ZONE":
        return "timestamptz"
    return compiled.lower()


def document(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as one JSON text, for `jsonb_to_recordset(CAST(:rows AS jsonb))`."""
    # Naive datetimes are UTC, as app.store.types.UTCDateTime binds them; non-string keys
    # as the engine's JSON serializer writes them.
    return orjson.dumps(rows, option=orjson.OPT_NAIVE_UTC | orjson.OPT_NON_STR_KEYS).decode()


def _python_defaults(table: Table, given: tuple[str, ...]) -> dict[str, Any]:
    """Values of the Python-side defaults (`default=`) of columns the rows leave out."""
    out = {}
    for column in table.c:
        if column.name in given or column.default is None or column.primary_key:
            continue
        default = column.default
        out[column.name] = default.arg(None) if default.is_callable else default.arg
    return out


@lru_cache(maxsize=256)
def _insert_sql(table: Table, columns: tuple[str, ...], defaults: tuple[str, ...], conflict: tuple[str, ...] | None,
                overwrite: tuple[str, ...], coalesce: tuple[str, ...], returning: tuple[str, ...]) -> Any:
    record = ", ".join(f'"{c}" {_pg_type(table.c[c])}' for c in columns)
    targets = ", ".join(f'"{c}"' for c in (*columns, *defaults))
    values = ", ".join([*(f'v."{c}"' for c in columns), *(f":d_{c}" for c in defaults)])
    sql = (f'INSERT INTO "{table.name}" ({targets}) SELECT {values} '
           f"FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS v({record})")
    if conflict is not None:
        keys = ", ".join(f'"{c}"' for c in conflict)
        sets = [f'"{c}" = EXCLUDED."{c}"' for c in overwrite]
        sets += [f'"{c}" = COALESCE(EXCLUDED."{c}", "{table.name}"."{c}")' for c in coalesce]
        sql += f" ON CONFLICT ({keys}) " + (f"DO UPDATE SET {', '.join(sets)}" if sets else "DO NOTHING")
    if returning:
        sql += " RETURNING " + ", ".join(f'"{c}"' for c in returning)
    stmt = text(sql)
    if defaults:
        stmt = stmt.bindparams(*(bindparam(f"d_{c}", type_=table.c[c].type) for c in defaults))
    return stmt


def insert_rows(
    session: Session,
    model: Any,
    rows: Sequence[dict[str, Any]],
    *,
    conflict: Sequence[str] | None = None,
    overwrite: Sequence[str] = (),
    coalesce: Sequence[str] = (),
    returning: Sequence[str] = (),
) -> list[Any]:
    """INSERT `rows` (dicts with the same keys). With `conflict`, rows whose key exists are
    skipped, or update `overwrite` columns (new value) and `coalesce` columns (new value
    unless it is null). Returns the `returning` columns of the rows written."""
    if not rows:
        return []
    table = _table(model)
    if not is_postgres(session):
        return _insert_rows_executemany(session, table, rows, conflict, overwrite, coalesce, returning)
    columns = tuple(rows[0])
    defaults = _python_defaults(table, columns)
    stmt = _insert_sql(table, columns, tuple(defaults), None if conflict is None else tuple(conflict),
                       tuple(overwrite), tuple(coalesce), tuple(returning))
    params = {"rows": document(rows), **{f"d_{c}": v for c, v in defaults.items()}}
    result = session.execute(stmt, params)
    return result.all() if returning else []


def _insert_rows_executemany(session: Session, table: Table, rows: Sequence[dict[str, Any]],
                             conflict: Sequence[str] | None, overwrite: Sequence[str], coalesce: Sequence[str],
                             returning: Sequence[str]) -> list[Any]:
    if conflict is None:
        stmt = table.insert()
    elif overwrite or coalesce:
        stmt = upsert(session, table, conflict, overwrite=overwrite, coalesce=coalesce)
    else:
        stmt = insert_ignore(session, table, conflict)
    if not returning:
        session.execute(stmt, list(rows))
        return []
    stmt = stmt.returning(*(table.c[c] for c in returning))
    if len(rows) == 1:
        return session.execute(stmt.values(rows[0])).all()
    return session.execute(stmt, list(rows)).all()


@lru_cache(maxsize=256)
def _update_sql(table: Table, key: str, columns: tuple[str, ...]) -> Any:
    record = ", ".join(f'"{c}" {_pg_type(table.c[c])}' for c in (key, *columns))
    sets = ", ".join(f'"{c}" = v."{c}"' for c in columns)
    return text(f'UPDATE "{table.name}" SET {sets} FROM jsonb_to_recordset(CAST(:rows AS jsonb)) '
                f'AS v({record}) WHERE "{table.name}"."{key}" = v."{key}"')


def update_rows(session: Session, model: Any, rows: Sequence[dict[str, Any]], key: str = "id") -> None:
    """UPDATE each row identified by `key` to the row's other values (same keys in every row)."""
    if not rows:
        return
    table = _table(model)
    columns = tuple(c for c in rows[0] if c != key)
    if not is_postgres(session):
        session.execute(
            table.update().where(table.c[key] == bindparam("_key")).values({c: bindparam(c) for c in columns}),
            [{"_key": r[key], **{c: r[c] for c in columns}} for r in rows],
        )
        return
    session.execute(_update_sql(table, key, columns), {"rows": document(rows)})
