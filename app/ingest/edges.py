"""Keeping lineage edges true over time.

An edge is a job reading or writing a dataset during [valid_from, valid_to). Events open
edges; a completed run of a batch job closes the edges of datasets it no longer touched,
so a job that stops writing a table drops that edge after its next completed run while
the history still answers "what did the graph look like at t". Streaming jobs never
complete in that sense, so their edges stay open while they run.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from app.ingest.records import Record
from app.store.models import LineageEdge, RunInput
from app.store.rowsets import insert_rows


class EdgeTracker:
    def __init__(self, session: Session) -> None:
        self.session = session
        # (job_id, dataset_id, direction) -> earliest eventTime seen in this batch
        self.touched: dict[tuple[int, int, str], datetime] = {}

    def touch(self, job: Record, dataset_id: int, direction: str, at: datetime) -> None:
        if job.edges_as_of is not None and at < job.edges_as_of:
            return  # a late event from before the graph was last reshaped must not reopen edges
        key = (job.id, dataset_id, direction)
        if key not in self.touched or at < self.touched[key]:
            self.touched[key] = at

    def flush(self, completed_runs: dict[int, datetime], runs: dict[int, Record], jobs: dict[int, Record],
              versions: list) -> None:
        job_ids = {k[0] for k in self.touched} | {runs[r].job_id for r in completed_runs if r in runs}
        if not job_ids:
            return
        open_edges = {
            (e.job_id, e.dataset_id, e.direction): e.id
            for e in self.session.execute(
                select(LineageEdge.id, LineageEdge.job_id, LineageEdge.dataset_id, LineageEdge.direction)
                .where(LineageEdge.job_id.in_(job_ids), LineageEdge.valid_to.is_(None))
            )
        }
        new = [
            {"job_id": j, "dataset_id": d, "direction": dr, "valid_from": at}
            for (j, d, dr), at in self.touched.items()
            if (j, d, dr) not in open_edges
        ]
        insert_rows(self.session, LineageEdge, new, conflict=["job_id", "dataset_id", "direction", "valid_from"])
        open_keys = set(open_edges) | {(r["job_id"], r["dataset_id"], r["direction"]) for r in new}
        self._close_stale(completed_runs, runs, jobs, open_keys, versions)

    def _close_stale(self, completed_runs, runs, jobs, open_keys, versions) -> None:
        completed = [r for r in completed_runs if r in runs]
        if not completed:
            return
        touched_by_run: dict[int, set[tuple[int, int, str]]] = {r: set() for r in completed}
        for run_id, dataset_id in self.session.execute(
            select(RunInput.run_id, RunInput.dataset_id).where(RunInput.run_id.in_(completed))
        ):
            touched_by_run[run_id].add((runs[run_id].job_id, dataset_id, "in"))
        for v in versions:
            if v.run_id in touched_by_run:
                touched_by_run[v.run_id].add((runs[v.run_id].job_id, v.dataset_id, "out"))
        open_by_job: dict[int, set[tuple[int, str]]] = {}
        for j, d, dr in open_keys:
            open_by_job.setdefault(j, set()).add((d, dr))
        closes = []
        for run_id in sorted(completed, key=lambda r: completed_runs[r]):
            ended = completed_runs[run_id]
            job = jobs[runs[run_id].job_id]
            if (job.processing_type or "").upper() == "STREAMING":
                continue
            if job.edges_as_of is not None and ended < job.edges_as_of:
                continue
            touched = {(d, dr) for _, d, dr in touched_by_run[run_id]}
            if not touched:
                continue  # a run that reported no datasets says nothing about the job's edges
            current = open_by_job.get(job.id, set())
            stale = current - touched
            closes.extend({"j": job.id, "d": d, "dr": dr, "ended": ended} for d, dr in stale)
            current -= stale
            job.edges_as_of = ended
        if closes:
            edges = LineageEdge.__table__
            # Core, not ORM, UPDATE: no identity-map synchronisation, one executemany.
            self.session.execute(
                edges.update()
                .where(edges.c.job_id == bindparam("j"), edges.c.dataset_id == bindparam("d"),
                       edges.c.direction == bindparam("dr"), edges.c.valid_to.is_(None),
                       edges.c.valid_from <= bindparam("ended"))
                .values(valid_to=bindparam("ended")),
                closes,
            )
