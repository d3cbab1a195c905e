"""Writing many rows of the SLO tables per pass with few statements.

A pass updates the `slos` row of every SLO whose evaluation changed (hundreds); an
ORM bulk update by primary key is one UPDATE per row, one round trip each on
PostgreSQL. There one UPDATE ... FROM (VALUES ...) does all of them; SQLite, in
process, keeps the plain executemany.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Table, bindparam, column, update, values
from sqlalchemy.orm import Session

CHUNK = 1000


def _chunks(items: list[Any], size: int = CHUNK) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def update_by_id(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Set the given columns of rows identified by "id"; every row has the same keys."""
    if not rows:
        return
    names = [c for c in rows[0] if c != "id"]
    if session.get_bind().dialect.name != "postgresql":
        stmt = update(table).where(table.c.id == bindparam("_id")).values({c: bindparam(c) for c in names})
        session.execute(stmt, [{"_id": r["id"], **{c: r[c] for c in names}} for r in rows])
        return
    for chunk in _chunks(rows):
        v = values(column("id", table.c.id.type), *[column(c, table.c[c].type) for c in names], name="v") \
            .data([(r["id"], *(r[c] for c in names)) for r in chunk])
        session.execute(update(table).where(table.c.id == v.c.id).values({c: v.c[c] for c in names}))
