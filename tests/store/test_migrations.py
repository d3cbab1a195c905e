"""Migrations that convert stored data keep it: 0009 (raw events as canonical text)."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator

import orjson
import pytest
from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.store.db import make_engine
from app.store.migrate import alembic_config, upgrade

POSTGRES_URL = os.environ.get("DATASLO_TEST_POSTGRES_URL")
EVENT = {"eventTime": "2026-11-22T03:00:00Z", "producer": "p", "run": {"runId": "x"},
         "job": {"namespace": "n", "name": "j"}, "big": {"nested": [1, 2.5, "three", None]}}


@pytest.fixture(params=["sqlite", "postgres"])
def fresh_url(request, tmp_path) -> Iterator[str]:
    """A database of its own: downgrading the shared test database would break its neighbours."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip("DATASLO_TEST_POSTGRES_URL is not set")
    admin_url = make_url(POSTGRES_URL).set(drivername="postgresql+psycopg")
    name = f"dataslo_test_migrations_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield admin_url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _migrate(engine, action, revision: str) -> None:
    with engine.begin() as conn:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        action(cfg, revision)


def test_raw_event_payloads_survive_0009_both_ways(fresh_url):
    engine = make_engine(fresh_url)
    try:
        upgrade(engine)
        _migrate(engine, command.downgrade, "0009_raw_event_text-1")  # payload as before 0009
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO lineage_events (event_hash, event_kind, event_time, producer, received_at, payload) "
                "VALUES ('h1', 'RunEvent', CURRENT_TIMESTAMP, 'p', CURRENT_TIMESTAMP, :payload)"),
                {"payload": orjson.dumps(EVENT).decode()})
        _migrate(engine, command.upgrade, "heads")
        canonical = orjson.dumps(EVENT, option=orjson.OPT_SORT_KEYS).decode()
        with engine.begin() as conn:
            old = conn.execute(text("SELECT payload FROM lineage_events WHERE event_hash = 'h1'")).scalar_one()
            assert isinstance(old, str) and orjson.loads(old) == EVENT
            conn.execute(text(
                "INSERT INTO lineage_events (event_hash, event_kind, event_time, producer, received_at, payload) "
                "VALUES (:h, 'RunEvent', CURRENT_TIMESTAMP, 'p', CURRENT_TIMESTAMP, :payload)"),
                {"h": hashlib.sha256(canonical.encode()).hexdigest(), "payload": canonical})
        # Stored as text, the new row is byte for byte what was hashed.
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT event_hash, payload FROM lineage_events WHERE event_hash <> 'h1'")).one()
        assert stored.payload == canonical
        assert hashlib.sha256(stored.payload.encode()).hexdigest() == stored.event_hash

        _migrate(engine, command.downgrade, "0009_raw_event_text-1")
        with engine.connect() as conn:
            payloads = conn.execute(text("SELECT payload FROM lineage_events ORDER BY id")).scalars().all()
        assert [p if isinstance(p, dict) else orjson.loads(p) for p in payloads] == [EVENT, EVENT]
    finally:
        engine.dispose()
