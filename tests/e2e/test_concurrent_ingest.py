"""Many clients at once against the real server: group commit with concurrent writers
must store every event once and keep run state right, whatever the interleaving."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from factories import dataset, new_run_id, run_event
from servers import running_service
from sqlalchemy import func, select

from app.store.db import make_engine, make_session_factory
from app.store.models import DatasetVersion, Job, LineageEvent, Run

pytestmark = pytest.mark.e2e


def test_concurrent_clients_share_commits_and_lose_nothing(db_url):
    rng = random.Random(7)
    events = []
    for i in range(60):
        run_id = new_run_id()
        job = f"job{i % 4}"  # a few hot jobs: writers contend on the same rows
        out = [dataset(f"table{i % 5}", fields=[("id", "int")], rows=i, output=True)]
        events += [run_event("START", run_id, job=job, at=i, outputs=out),
                   run_event("COMPLETE", run_id, job=job, at=i + 0.5, outputs=out)]
    rng.shuffle(events)
    events += events[:20]  # client retries: duplicates
    # Two writers, so the row locking between concurrent group commits is exercised too.
    writers = {"DATASLO_INGEST_WRITERS": "2" if db_url.startswith("postgresql") else "1"}
    with running_service(db_url, extra_env=writers) as base, httpx.Client(base_url=base, timeout=30) as client:
        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(lambda e: client.post("/api/v1/lineage", json=e).status_code, events))
    assert set(statuses) == {201}
    engine = make_engine(db_url)
    with make_session_factory(engine)() as s:
        assert s.scalar(select(func.count()).select_from(LineageEvent)) == 120
        assert s.scalars(select(Run.state).distinct()).all() == ["COMPLETED"]
        assert s.scalar(select(func.count()).select_from(Run)) == 60
        assert s.scalar(select(func.count()).select_from(DatasetVersion)) == 60
        # Each job's latest run is its run with the latest event time.
        for job in s.scalars(select(Job)):
            latest = s.scalars(select(Run).where(Run.job_id == job.id).order_by(Run.ended_at.desc())).first()
            assert (job.latest_run_uuid, job.latest_run_state) == (latest.run_uuid, "COMPLETED")
    engine.dispose()
