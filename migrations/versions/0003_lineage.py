"""Lineage read paths: covering indexes for graph walks, child-job lookup, fast search,
and the edge change log that keeps the in-process graph cache exact.

The graph walk asks "open edges of these datasets/jobs in this direction" level by level;
partial indexes over open edges that carry the other endpoint let PostgreSQL answer with
index-only scans and SQLite without touching the table. Search is an infix,
case-insensitive match: pg_trgm makes that an index scan on PostgreSQL when the
extension is available; elsewhere it stays a scan, which is fine at the sizes SQLite holds.

`lineage_edge_log` gets the job id of every inserted, updated or deleted edge from
triggers, so the graph cache (app/lineage/cache.py) can catch up on exactly what changed
however the edges were written. The triggers keep only the newest LOG_KEEP rows.

Revision ID: 0003_lineage
Revises: 0001_core
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_lineage"
down_revision = "0001_core"
branch_labels = ("lineage",)
depends_on = None

OPEN = sa.text("valid_to IS NULL")
LOG_KEEP = 200_000

# PostgreSQL: statement-level triggers with transition tables, one log row per job per
# statement; the writer's txid lets readers find rows committed out of sequence order.
PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION dataslo_log_edge_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO lineage_edge_log (job_id, txid)
        SELECT DISTINCT job_id, txid_current() FROM new_rows;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO lineage_edge_log (job_id, txid)
        SELECT DISTINCT job_id, txid_current()
        FROM (SELECT job_id FROM new_rows UNION SELECT job_id FROM old_rows) AS changed;
    ELSE
        INSERT INTO lineage_edge_log (job_id, txid)
        SELECT DISTINCT job_id, txid_current() FROM old_rows;
    END IF;
    DELETE FROM lineage_edge_log
    WHERE seq < (SELECT max(seq) FROM lineage_edge_log) - {LOG_KEEP};
    RETURN NULL;
END $$
"""
PG_TRIGGERS = {
    "insert": "REFERENCING NEW TABLE AS new_rows",
    "update": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "REFERENCING OLD TABLE AS old_rows",
}
SQLITE_TRIGGERS = {
    "insert": "INSERT INTO lineage_edge_log (job_id) VALUES (NEW.job_id);",
    "update": "INSERT INTO lineage_edge_log (job_id) VALUES (NEW.job_id); "
    "INSERT INTO lineage_edge_log (job_id) SELECT OLD.job_id WHERE OLD.job_id <> NEW.job_id;",
    "delete": "INSERT INTO lineage_edge_log (job_id) VALUES (OLD.job_id);",
}
SQLITE_PRUNE = f"DELETE FROM lineage_edge_log WHERE seq < last_insert_rowid() - {LOG_KEEP};"


def _has_trigram(bind) -> bool:
    """Create pg_trgm if the server ships it; a missing extension or privilege is no error."""
    available = bind.execute(
        sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")
    ).first()
    if not available:
        return False
    savepoint = bind.begin_nested()
    try:
        bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError:
        savepoint.rollback()
        return False
    savepoint.commit()
    return True


def upgrade() -> None:
    op.create_index(
        "ix_lineage_edges_open_dataset",
        "lineage_edges",
        ["dataset_id", "direction", "job_id"],
        postgresql_where=OPEN,
        sqlite_where=OPEN,
    )
    op.create_index(
        "ix_lineage_edges_open_job",
        "lineage_edges",
        ["job_id", "direction", "dataset_id"],
        postgresql_where=OPEN,
        sqlite_where=OPEN,
    )
    op.create_index("ix_jobs_parent_job_id", "jobs", ["parent_job_id"])
    op.create_index(
        "ix_column_lineage_output_job",
        "column_lineage",
        ["output_dataset_id", "job_id", "event_time"],
    )
    op.create_table(
        "lineage_edge_log",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True,
                  autoincrement=True),
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("txid", sa.BigInteger(), nullable=True),
        sqlite_autoincrement=True,
    )
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.create_index("ix_lineage_edge_log_txid", "lineage_edge_log", ["txid"])
        op.execute(PG_FUNCTION)
        for event, referencing in PG_TRIGGERS.items():
            op.execute(
                f"CREATE TRIGGER lineage_edges_log_{event} AFTER {event.upper()} ON lineage_edges "
                f"{referencing} FOR EACH STATEMENT EXECUTE FUNCTION dataslo_log_edge_jobs()"
            )
    else:
        for event, body in SQLITE_TRIGGERS.items():
            op.execute(
                f"CREATE TRIGGER lineage_edges_log_{event} AFTER {event.upper()} ON lineage_edges "
                f"BEGIN {body} {SQLITE_PRUNE} END"
            )
    if bind.dialect.name == "postgresql" and _has_trigram(bind):
        for table in ("datasets", "jobs", "dataset_symlinks"):
            op.execute(
                f"CREATE INDEX ix_{table}_name_trgm ON {table} "
                "USING gin (lower(name) gin_trgm_ops)"
            )


def downgrade() -> None:
    bind = op.get_bind()
    for event in PG_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS lineage_edges_log_{event}"
                   + (" ON lineage_edges" if bind.dialect.name == "postgresql" else ""))
    if bind.dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS dataslo_log_edge_jobs()")
        op.execute("DROP INDEX IF EXISTS ix_datasets_name_trgm")
        op.execute("DROP INDEX IF EXISTS ix_jobs_name_trgm")
        op.execute("DROP INDEX IF EXISTS ix_dataset_symlinks_name_trgm")
    op.drop_table("lineage_edge_log")
    op.drop_index("ix_column_lineage_output_job", table_name="column_lineage")
    op.drop_index("ix_jobs_parent_job_id", table_name="jobs")
    op.drop_index("ix_lineage_edges_open_job", table_name="lineage_edges")
    op.drop_index("ix_lineage_edges_open_dataset", table_name="lineage_edges")
