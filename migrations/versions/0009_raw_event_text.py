"""Raw events are kept as the canonical JSON text that was hashed, not as JSONB.

The append-only log is written once per event and read back whole (audit, replay,
`GET /api/v1/events/lineage`); nothing queries inside it. Converting each ~4.5 kB event
to JSONB was the largest single cost of an ingest transaction on PostgreSQL (~37 ms of
~94 ms of statements per 500-event batch, bench/storeprof), and JSONB re-orders keys, so
the stored value could not be checked against its `event_hash`. As text, the payload is
exactly the canonical form that was hashed: sha256(payload) == event_hash for every row
written from now on (rows converted here keep JSONB's rendering).

SQLite already keeps JSON as text: nothing to change there.

Revision ID: 0009_raw_event_text
Revises: 0001_core
Create Date: 2026-11-22
"""

from alembic import op

revision = "0009_raw_event_text"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE lineage_events ALTER COLUMN payload TYPE text USING payload::text")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE lineage_events ALTER COLUMN payload TYPE jsonb USING payload::jsonb")
