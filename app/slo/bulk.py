"""Statements that carry many rows or ids per pass, kept small on PostgreSQL.

A pass writes hundreds of evaluation rows, updates as many `slos` rows and looks up
hundreds of runs by id. Rendered the usual way, each value is its own placeholder:
an ORM bulk update is one UPDATE per row (a round trip each), an IN list of 500 ids
is 500 placeholders that SQLAlchemy renders and psycopg re-parses on every execution,
which cost more than the queries themselves. On PostgreSQL ids travel as one array
parameter (`= ANY`) and rows as one JSON document (`jsonb_to_recordset`), so the
statement text is fixed and cached.
SQLite, in process and without arrays, keeps the plain forms.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    String,
    any_,
    bindparam,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from app.store.dialect import is_postgres
from app.store.rowsets import document
from app.store.slo_models import Slo, SloEvaluation


def in_(session: Session, column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """`column IN values`, as `column = ANY(:array)` on PostgreSQL (ids or strings)."""
    values = list(values)
    if not is_postgres(session):
        return column.in_(values)
    kind = String if values and isinstance(values[0], str) else BigInteger
    return column == any_(bindparam(None, values, type_=ARRAY(kind)))


def in_probed(session: Session, column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """`in_`, planned as one index probe per value on PostgreSQL.

    For `= ANY(:array)` the planner guesses one match per element and, on a table of
    tens of thousands of rows, prefers a sequential scan (4 ms for 500 new runs' quality
    assertions); `IN (SELECT unnest(:array))` is a nested loop over the index instead.
    """
    values = list(values)
    if not is_postgres(session):
        return column.in_(values)
    kind = String if values and isinstance(values[0], str) else BigInteger
    return column.in_(select(func.unnest(bindparam(None, values, type_=ARRAY(kind)))))


# Rows travel as one JSON document: psycopg quotes each element of a text array with a
# regular expression, which for hundreds of JSON reports cost more than the insert.
# Evaluations are inserted and `slos` pointed at them in one statement: the rows are
# sent and parsed once, and the new ids never travel back to Python and out again.
_STORE_EVALUATIONS = text("""
WITH v AS (
    SELECT * FROM jsonb_to_recordset(CAST(:rows AS jsonb))
        AS v(slo_id bigint, evaluated_at timestamptz, state text, severity text, budget_remaining float8,
             report jsonb, key text)
), ins AS (
    INSERT INTO slo_evaluations (slo_id, evaluated_at, state, severity, budget_remaining, report)
    SELECT slo_id, evaluated_at, state, severity, budget_remaining, report FROM v
    RETURNING id, slo_id
)
UPDATE slos SET state = v.state, severity = v.severity, latest_evaluation_id = ins.id, report_key = v.key
FROM v JOIN ins ON ins.slo_id = v.slo_id
WHERE slos.id = v.slo_id
""")


def store_evaluations(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert evaluation rows (slo_id, evaluated_at, state, severity, budget_remaining,
    report, key) and point each SLO's row at its new latest evaluation."""
    if not rows:
        return
    if is_postgres(session):  # one row per SLO (a pass evaluates each once)
        session.execute(_STORE_EVALUATIONS, {"rows": document(rows)})
        return
    table = SloEvaluation.__table__
    ids = session.execute(table.insert().returning(table.c.id, table.c.slo_id),
                          [{k: v for k, v in r.items() if k != "key"} for r in rows]).all()
    latest = {slo_id: eid for eid, slo_id in ids}
    table = Slo.__table__
    session.execute(
        update(table).where(table.c.id == bindparam("_id")).values(
            state=bindparam("state"), severity=bindparam("severity"),
            latest_evaluation_id=bindparam("eid"), report_key=bindparam("key")),
        [{"_id": r["slo_id"], "state": r["state"], "severity": r["severity"], "eid": latest[r["slo_id"]],
          "key": r["key"]} for r in rows])
