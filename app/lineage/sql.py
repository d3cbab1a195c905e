"""Dialect-neutral pieces the lineage queries share.

Graph answers send thousands of ids per query. An expanding `IN (:p1, :p2, ...)` makes a
new statement for every list length and hits SQLite's variable limit, so ids travel as one
parameter instead: a BIGINT[] on PostgreSQL, a JSON array read through json_each on
SQLite. On PostgreSQL the array is unnested in a subquery rather than compared with
`= ANY(...)`: the planner estimates ANY's selectivity element by element, which for
thousands of ids costs more than running the query.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import BigInteger, ColumnElement, Text, bindparam, cast, func, select
from sqlalchemy.dialects.postgresql import ARRAY

from app.store.models import LineageEdge


def id_in(column: ColumnElement, ids: Iterable[int], postgres: bool) -> ColumnElement[bool]:
    """`column IN ids` with the whole list as one bound parameter."""
    if postgres:
        array = cast(bindparam(None, pg_array_literal(ids), type_=Text), ARRAY(BigInteger))
        unnested = func.unnest(array).table_valued("id").render_derived()
        return column.in_(select(unnested.c.id))
    each = func.json_each(bindparam(None, json_array(ids))).table_valued("value")
    return column.in_(select(each.c.value))


def pg_array_literal(ids: Iterable[int]) -> str:
    """'{1,2,3}': the driver adapts a list of ints element by element in Python, which for
    tens of thousands of ids costs more than the query; a literal is one string join."""
    return "{" + ",".join(map(str, map(int, ids))) + "}"


def json_array(ids: Iterable[int]) -> str:
    return "[" + ",".join(map(str, map(int, ids))) + "]"


def edges_valid(at: datetime | None) -> ColumnElement[bool]:
    """Edges of the graph now (open ones) or as it stood at `at` (valid_from <= at < valid_to)."""
    if at is None:
        return LineageEdge.valid_to.is_(None)
    return (LineageEdge.valid_from <= at) & (
        LineageEdge.valid_to.is_(None) | (LineageEdge.valid_to > at)
    )


def chunks(values: list[int], size: int = 20000) -> Iterable[list[int]]:
    """Bound one statement's parameter size; huge frontiers go in several round trips."""
    for start in range(0, len(values), size):
        yield values[start : start + size]
