"""Real producer events from ../shared (absent in a user's clone: then skipped)."""

from __future__ import annotations

import json

import pytest
from backends import SHARED_DIR
from sqlalchemy import select

from app.ingest.schema import EventError, parse_event
from app.store.db import make_engine, make_session_factory
from app.store.models import ColumnLineage, Dataset, DatasetSymlink, Job, Run

EVENTS = SHARED_DIR / "openlineage" / "events"
pytestmark = pytest.mark.skipif(not EVENTS.is_dir(), reason="../shared is not present")


def _event_files():
    return sorted(p for p in EVENTS.glob("*.json") if p.name != "MANIFEST.json") if EVENTS.is_dir() else []


def test_every_valid_shared_event_is_ingested(client, db_url):
    # The folder's README table marks the files that pass strict schema validation "OK".
    strict_ok = {
        cells[1] for line in (EVENTS / "README.md").read_text().splitlines()
        if line.startswith("| ") and (cells := [c.strip() for c in line.split("|")])[-2] == "OK"
    }
    assert strict_ok
    accepted = 0
    for path in _event_files():
        raw = json.loads(path.read_text())
        try:
            parse_event(raw)
        except EventError:
            assert path.name not in strict_ok, f"{path.name} passes strict validation but we reject it"
            continue
        r = client.post("/api/v1/lineage", content=path.read_bytes(), headers={"content-type": "application/json"})
        assert r.status_code == 201, (path.name, r.text)
        accepted += 1
    assert accepted >= 20

    engine = make_engine(db_url)
    with make_session_factory(engine)() as s:
        # Spark CLL: the output table's column lineage and its Hive symlink are kept.
        assert s.scalar(select(ColumnLineage.id).limit(1)) is not None
        assert s.scalars(select(DatasetSymlink.name)).all()
        # Airflow: the DAG-level COMPLETE arrives without a START and still completes its run.
        airflow_job = s.scalars(select(Job).where(Job.integration == "AIRFLOW")).first()
        assert airflow_job is not None
        # dbt singular test FAIL: the run failed.
        failed = s.scalars(select(Run.state).join(Job).where(Job.name.like("%assert_row_count%"))).all()
        assert "FAILED" in failed
        assert s.scalar(select(Dataset.id).limit(1)) is not None
    engine.dispose()
