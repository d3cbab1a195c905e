"""INSERT ... ON CONFLICT for the two databases we support (same syntax, different modules)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from sqlalchemy import func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def is_postgres(session: Session) -> bool:
    """Several statements take a faster, PostgreSQL-only form (arrays, JSON recordsets, row locks)."""
    return session.get_bind().dialect.name == "postgresql"


def _insert(dialect: str, model):
    # The Core table, not the mapped class: ORM bulk INSERT splits a list of rows into one
    # statement per distinct set of None/non-None values, dozens per ingest batch.
    table = getattr(model, "__table__", model)
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise RuntimeError(f"unsupported database dialect: {dialect}")


def insert_ignore(session: Session, model, conflict: Sequence[str]):
    return _insert_ignore(session.get_bind().dialect.name, model, tuple(conflict))


def upsert(
    session: Session,
    model,
    conflict: Sequence[str],
    *,
    overwrite: Sequence[str] = (),
    coalesce: Sequence[str] = (),
):
    """`overwrite` columns take the new value; `coalesce` columns keep the old one unless
    the new row brings a value (a later event without row counts must not erase them)."""
    return _upsert(session.get_bind().dialect.name, model, tuple(conflict), tuple(overwrite), tuple(coalesce))


# Statements are immutable, and building ON CONFLICT clauses is costly on the ingest hot
# path, so each distinct one is built once per process.
@lru_cache(maxsize=256)
def _insert_ignore(dialect: str, model, conflict: tuple[str, ...]):
    return _insert(dialect, model).on_conflict_do_nothing(index_elements=list(conflict))


@lru_cache(maxsize=256)
def _upsert(dialect: str, model, conflict, overwrite, coalesce):
    stmt = _insert(dialect, model)
    table = getattr(model, "__table__", model)
    values = {c: stmt.excluded[c] for c in overwrite}
    values.update({c: func.coalesce(stmt.excluded[c], table.c[c]) for c in coalesce})
    return stmt.on_conflict_do_update(index_elements=list(conflict), set_=values)
