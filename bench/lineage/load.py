"""Loading a synthetic estate through the ingestion path, and the in-memory baseline.

Events go through `EventStore.store`, the function behind POST /api/v1/lineage/batch
(validation, idempotent apply, edges, versions), in batches of 500 as the batch endpoint
takes them; only HTTP framing is skipped, which the ingest benchmark measures on its own.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable

from sqlalchemy import Engine, text

from app.ingest.schema import parse_event
from app.ingest.writer import EventStore
from app.store.db import make_session_factory
from bench.lineage.estate import Estate, events

BATCH = 500


def ingest(engine: Engine, est: Estate, log: Callable[[str], None]) -> dict:
    store = EventStore(make_session_factory(engine))
    started = time.perf_counter()
    batch: list = []
    sent = 0
    for event in events(est):
        batch.append(parse_event(event))
        if len(batch) == BATCH:
            store.store(batch)
            sent += len(batch)
            batch = []
            if sent % 10_000 == 0:
                log(f"    {sent:,} events ({sent / (time.perf_counter() - started):,.0f}/s)")
    if batch:
        store.store(batch)
        sent += len(batch)
    elapsed = time.perf_counter() - started
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # What autovacuum would do after a bulk load: statistics, and on PostgreSQL the
        # visibility map that index-only scans need.
        conn.exec_driver_sql("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE")
    with engine.connect() as conn:
        counts = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                  for t in ("datasets", "jobs", "lineage_edges", "dataset_versions")}
    return {"events": sent, "seconds": round(elapsed, 1), "events_per_s": round(sent / elapsed), **counts}


class Adjacency:
    """The open graph as plain dicts of lists: the in-memory BFS the issue compares with."""

    def __init__(self, engine: Engine) -> None:
        self.readers: dict[int, list[int]] = defaultdict(list)
        self.outputs: dict[int, list[int]] = defaultdict(list)
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT job_id, dataset_id, direction FROM lineage_edges WHERE valid_to IS NULL"))
            for job_id, ds_id, direction in rows:
                if direction == "in":
                    self.readers[ds_id].append(job_id)
                else:
                    self.outputs[job_id].append(ds_id)
        self.readers = dict(self.readers)
        self.outputs = dict(self.outputs)

    def downstream(self, dataset_id: int) -> tuple[dict[int, int], dict[int, int]]:
        """Breadth-first, every node once, distance in edges: the same answer as `walk`."""
        datasets = {dataset_id: 0}
        jobs: dict[int, int] = {}
        frontier = [dataset_id]
        hop = 0
        readers, outputs = self.readers, self.outputs
        while frontier:
            hop += 1
            new_jobs = []
            for ds in frontier:
                for job in readers.get(ds, ()):
                    if job not in jobs:
                        jobs[job] = hop
                        new_jobs.append(job)
            hop += 1
            frontier = []
            for job in new_jobs:
                for ds in outputs.get(job, ()):
                    if ds not in datasets:
                        datasets[ds] = hop
                        frontier.append(ds)
        return datasets, jobs
