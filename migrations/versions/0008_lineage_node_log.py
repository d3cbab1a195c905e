"""Node change log: which datasets and jobs changed what a blast radius shows about them.

The impact answer shows, for every node it reaches, its namespace and name, owners, last
run state and time, and last update. At 100k datasets a hub reaches 15k-30k nodes, and
reading those rows per request costs far more than the walk itself, so the process keeps
them in memory (app/lineage/nodecache.py). To keep that copy exact on every replica
without invalidation messages, these triggers append (kind, id) of every dataset or job
row inserted, deleted, or updated in one of the shown columns, the same way 0003 logs
edge changes; readers catch up from the log before answering.

Row-level triggers with a WHEN clause, not statement-level ones: ingestion updates jobs
and datasets with executemany, which runs one statement per row anyway, and the WHEN
clause is evaluated without entering the trigger function when nothing shown changed
(most dataset updates only touch facets). The log is pruned to its newest LOG_KEEP rows
every thousandth row instead of on every row.

Revision ID: 0008_lineage_node_log
Revises: 0003_lineage
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_lineage_node_log"
down_revision = "0003_lineage"
branch_labels = None
depends_on = None

LOG_KEEP = 200_000

# The columns each node's impact entry shows; only updates changing one of them are logged.
SHOWN = {
    "datasets": ("d", ("namespace_id", "name", "owners", "last_modified_at")),
    "jobs": ("j", ("namespace_id", "name", "owners", "latest_run_state", "latest_run_at")),
}

PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION dataslo_log_lineage_node() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    logged BIGINT;
BEGIN
    INSERT INTO lineage_node_log (kind, node_id, txid)
    VALUES (TG_ARGV[0], CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END, txid_current())
    RETURNING seq INTO logged;
    IF logged % 1000 = 0 THEN
        DELETE FROM lineage_node_log WHERE seq < logged - {LOG_KEEP};
    END IF;
    RETURN NULL;
END $$
"""
SQLITE_PRUNE = f"DELETE FROM lineage_node_log WHERE seq < last_insert_rowid() - {LOG_KEEP};"


def _changed(columns: tuple[str, ...], postgres: bool) -> str:
    op_ = "IS DISTINCT FROM" if postgres else "IS NOT"
    return " OR ".join(f"OLD.{c} {op_} NEW.{c}" for c in columns)


def upgrade() -> None:
    op.create_table(
        "lineage_node_log",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("kind", sa.String(1), nullable=False),  # 'd' dataset, 'j' job
        sa.Column("node_id", sa.BigInteger(), nullable=False),
        sa.Column("txid", sa.BigInteger(), nullable=True),
        sqlite_autoincrement=True,
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.create_index("ix_lineage_node_log_txid", "lineage_node_log", ["txid"])
        op.execute(PG_FUNCTION)
    for table, (kind, columns) in SHOWN.items():
        for event in ("insert", "update", "delete"):
            when = f"WHEN ({_changed(columns, postgres)}) " if event == "update" else ""
            name = f"lineage_node_log_{table}_{event}"
            if postgres:
                op.execute(f"CREATE TRIGGER {name} AFTER {event.upper()} ON {table} FOR EACH ROW "
                           f"{when}EXECUTE FUNCTION dataslo_log_lineage_node('{kind}')")
            else:
                row = "OLD" if event == "delete" else "NEW"
                op.execute(f"CREATE TRIGGER {name} AFTER {event.upper()} ON {table} FOR EACH ROW "
                           f"{when}BEGIN INSERT INTO lineage_node_log (kind, node_id) "
                           f"VALUES ('{kind}', {row}.id); {SQLITE_PRUNE} END")


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in SHOWN:
        for event in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS lineage_node_log_{table}_{event}"
                       + (f" ON {table}" if postgres else ""))
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS dataslo_log_lineage_node()")
    op.drop_table("lineage_node_log")
