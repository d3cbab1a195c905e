"""Leases for single-runner scheduled work across replicas.

Revision ID: 0002_leases
Revises: 0001_core
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_leases"
down_revision = "0001_core"
branch_labels = ("leases",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("holder", sa.String(length=255), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("leases")
