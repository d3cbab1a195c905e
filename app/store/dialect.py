"""INSERT ... ON CONFLICT for the two databases we support (same syntax, different modules)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def _insert(session: Session, model):
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model)
    if dialect == "sqlite":
        return sqlite.insert(model)
    raise RuntimeError(f"unsupported database dialect: {dialect}")


def insert_ignore(session: Session, model, conflict: Sequence[str]):
    return _insert(session, model).on_conflict_do_nothing(index_elements=list(conflict))


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
    stmt = _insert(session, model)
    table = model.__table__
    values = {c: stmt.excluded[c] for c in overwrite}
    values.update({c: func.coalesce(stmt.excluded[c], table.c[c]) for c in coalesce})
    return stmt.on_conflict_do_update(index_elements=list(conflict), set_=values)
