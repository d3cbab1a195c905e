"""SLO engine: durable freshness state, and an index for pruning evaluation history.

Freshness SLOs used to reload every completed write of their period after each restart
(hundreds of thousands of rows for a thousand SLOs) and recompute the stale stretches
from them. Now the stale stretches are stored (`slo_fresh_spans`, exact from
`slos.fresh_from` up to the last write), and every write counted is kept as a verdict
row in `slo_outcomes` (key `w:<run id>`, not counted in any window), so a changed run
tells which write instant it moved from. Volume SLOs now keep their first write
(which has no history to be judged against) as a never-counted `h:` row, for the same
reason. Existing freshness and volume SLOs are marked unmaterialised so the next pass
builds this state from the store.

`slo_evaluations` gets an index on `evaluated_at`: retention deletes the oldest rows in
bounded chunks and must find them without scanning the table.

Revision ID: 0006_slo_fresh_state
Revises: 0004_slo
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_slo_fresh_state"
down_revision = "0004_slo"
branch_labels = None
depends_on = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "slo_fresh_spans",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("slo_id", BIGID, nullable=False),
        sa.Column("start_at", TS, nullable=False),
        sa.Column("end_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["slo_id"], ["slos.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_slo_fresh_spans_slo", "slo_fresh_spans", ["slo_id", "start_at"])
    with op.batch_alter_table("slos") as batch:
        batch.add_column(sa.Column("fresh_from", TS, nullable=True))
    op.create_index("ix_slo_evaluations_time", "slo_evaluations", ["evaluated_at"])
    op.execute(
        "UPDATE slos SET materialized_revision = 0 WHERE definition_id IN "
        "(SELECT id FROM slo_definitions WHERE sli_kind IN ('freshness', 'volume', 'completeness'))"
    )


def downgrade() -> None:
    op.drop_index("ix_slo_evaluations_time", table_name="slo_evaluations")
    with op.batch_alter_table("slos") as batch:
        batch.drop_column("fresh_from")
    op.drop_index("ix_slo_fresh_spans_slo", table_name="slo_fresh_spans")
    op.drop_table("slo_fresh_spans")
    op.execute(
        "UPDATE slos SET materialized_revision = 0 WHERE definition_id IN "
        "(SELECT id FROM slo_definitions WHERE sli_kind = 'freshness')"
    )
