"""The current job–dataset graph held in process memory, kept exact by a change log.

Why: a graph walk is one index probe per node in the database (a few microseconds each,
plus a round trip per level) against a dict lookup in memory (a tenth of a microsecond).
For a hub whose blast radius is 20k nodes that is the difference between a few
milliseconds and a few hundred. So the open edges live here as adjacency lists, and the
database stays the truth: triggers (migration 0003) append the job id of every changed
edge to `lineage_edge_log`, and each walk first reads the log rows it has not seen and
re-reads the open edges of those jobs. A walk therefore always sees every edge committed
before it started, on every replica, with no invalidation messages.

Which log rows are new: on SQLite writers are serialised, so log order is commit order
and a sequence watermark is exact. On PostgreSQL a transaction can take a lower sequence
number and commit after a higher one, so the watermark is the snapshot xmin instead
(every transaction older than it has finished): rows whose writer's txid is at or above
the previous xmin are re-read, which may repeat some (harmless) but never misses one.

The log keeps its newest rows only (the triggers prune it); a cache that fell further
behind than that reloads everything. Estates larger than `max_edges` are not cached and
walks go to the database.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from app.lineage.sql import chunks, is_postgres, json_array, pg_array_literal

# ~80 MB per 200k open edges; past this the walks go to the database instead.
DEFAULT_MAX_EDGES = int(os.environ.get("DATASLO_LINEAGE_CACHE_MAX_EDGES", "1000000"))

# A too-big estate is not re-counted on every walk, only this often.
RECHECK_SECONDS = 600.0

_FRESH_KEY = "dataslo.lineage.cache"

_caches: weakref.WeakKeyDictionary[Engine, GraphCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


class GraphCache:
    """Adjacency of the open edges: readers/writers per dataset, inputs/outputs per job."""

    def __init__(self, max_edges: int = DEFAULT_MAX_EDGES) -> None:
        self.max_edges = max_edges
        self.lock = threading.RLock()
        self.loaded = False
        self.too_big = False
        self.watermark = 0  # last log seq (SQLite) or snapshot xmin (PostgreSQL)
        self.max_seq = 0
        # Adjacency as tuples of ints, replaced rather than mutated: the garbage collector
        # untracks tuples and dicts that hold only ints, so after one collection a 200k-edge
        # graph no longer adds to the full collections that every big answer triggers
        # (with lists it added tens of milliseconds to each).
        self.readers: dict[int, tuple[int, ...]] = {}
        self.writers: dict[int, tuple[int, ...]] = {}
        self.inputs: dict[int, tuple[int, ...]] = {}
        self.outputs: dict[int, tuple[int, ...]] = {}
        self.edge_count = 0
        self.checked_at = 0.0

    # -- keeping it exact ------------------------------------------------------------
    def refresh(self, session: Session) -> bool:
        """Bring the cache up to date; False when the estate is too big to hold.

        In the steady state this is one statement: new log rows, the new watermark and the
        oldest kept row, all from the same snapshot, so nothing committed between reading
        the watermark and reading the rows can fall through.
        """
        if self.too_big and time.monotonic() - self.checked_at < RECHECK_SECONDS:
            return False
        postgres = is_postgres(session)
        mark_sql = ("txid_snapshot_xmin(txid_current_snapshot())" if postgres
                    else "(SELECT coalesce(max(seq), 0) FROM lineage_edge_log)")
        if not self.loaded:
            mark = session.execute(text(f"SELECT {mark_sql}")).scalar_one()
            self._load_all(session)
            self.watermark = int(mark)
            return not self.too_big
        column, since = ("txid", self.watermark) if postgres else ("seq", self.watermark + 1)
        rows = session.execute(
            text(f"SELECT seq, job_id FROM lineage_edge_log WHERE {column} >= :since "
                 f"UNION ALL SELECT -1, {mark_sql} "
                 "UNION ALL SELECT -2, min(seq) FROM lineage_edge_log"),
            {"since": since},
        ).all()
        mark = next(value for seq, value in rows if seq == -1)
        oldest = next(value for seq, value in rows if seq == -2)
        changed = [(seq, job_id) for seq, job_id in rows if seq >= 0]
        if oldest is not None and oldest > self.max_seq + 1:
            self._load_all(session)  # we fell behind the pruned log: start over
        elif changed:
            self.max_seq = max(self.max_seq, max(seq for seq, _ in changed))
            if self.too_big:
                self._load_all(session)
            else:
                self._reload_jobs(session, sorted({job_id for _, job_id in changed}), postgres)
        self.watermark = int(mark)
        return not self.too_big

    def _load_all(self, session: Session) -> None:
        self.max_seq = session.execute(text("SELECT coalesce(max(seq), 0) FROM lineage_edge_log")).scalar_one()
        count = session.execute(text("SELECT count(*) FROM lineage_edges WHERE valid_to IS NULL")).scalar_one()
        self.readers, self.writers, self.inputs, self.outputs = {}, {}, {}, {}
        self.edge_count = 0
        self.loaded = True
        self.too_big = count > self.max_edges
        self.checked_at = time.monotonic()
        if self.too_big:
            return
        rows = session.execute(
            text("SELECT job_id, dataset_id, direction FROM lineage_edges WHERE valid_to IS NULL")
        ).all()
        sides: dict[str, dict[int, set[int]]] = {"in": defaultdict(set), "out": defaultdict(set)}
        for job_id, ds_id, direction in rows:
            sides[direction][job_id].add(ds_id)
        for (by_job, by_ds), edges in ((("inputs", "readers"), sides["in"]),
                                        (("outputs", "writers"), sides["out"])):
            inverse: dict[int, list[int]] = defaultdict(list)
            for job_id, ds_ids in edges.items():
                for ds_id in ds_ids:
                    inverse[ds_id].append(job_id)
                self.edge_count += len(ds_ids)
            setattr(self, by_job, {j: tuple(sorted(ds)) for j, ds in edges.items()})
            setattr(self, by_ds, {d: tuple(sorted(js)) for d, js in inverse.items()})

    def _reload_jobs(self, session: Session, job_ids: list[int], postgres: bool) -> None:
        ins: dict[int, set[int]] = defaultdict(set)
        outs: dict[int, set[int]] = defaultdict(set)
        for part in chunks(job_ids, 5000):
            if postgres:
                stmt = text("SELECT job_id, dataset_id, direction FROM lineage_edges "
                            "WHERE job_id = ANY(CAST(:ids AS BIGINT[])) AND valid_to IS NULL")
                params = {"ids": pg_array_literal(part)}
            else:
                stmt = text("SELECT job_id, dataset_id, direction FROM lineage_edges "
                            "WHERE job_id IN (SELECT value FROM json_each(:ids)) AND valid_to IS NULL")
                params = {"ids": json_array(part)}
            for job_id, ds_id, direction in session.execute(stmt, params):
                (ins if direction == "in" else outs)[job_id].add(ds_id)
        for job_id in job_ids:
            self._set_job(job_id, ins.get(job_id, set()), outs.get(job_id, set()))
        if self.edge_count > self.max_edges:
            self._load_all(session)  # counts again, marks it too big and frees the lists

    def _set_job(self, job_id: int, inputs: set[int], outputs: set[int]) -> None:
        """Replace one job's edges, keeping the per-dataset lists in step."""
        for attr, by_ds, new in (("inputs", self.readers, inputs), ("outputs", self.writers, outputs)):
            side: dict[int, tuple[int, ...]] = getattr(self, attr)
            old = set(side.get(job_id, ()))
            for ds_id in old - new:
                jobs = tuple(j for j in by_ds[ds_id] if j != job_id)
                if jobs:
                    by_ds[ds_id] = jobs
                else:
                    del by_ds[ds_id]
            for ds_id in new - old:
                by_ds[ds_id] = (*by_ds.get(ds_id, ()), job_id)
            self.edge_count += len(new) - len(old)
            if new:
                side[job_id] = tuple(sorted(new))
            else:
                side.pop(job_id, None)


def cache_for(session: Session) -> GraphCache:
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    with _caches_lock:
        cache = _caches.get(engine)
        if cache is None:
            cache = _caches[engine] = GraphCache()
        return cache


@contextmanager
def current_graph(session: Session) -> Iterator[GraphCache | None]:
    """The cache brought up to date, held locked; None when it cannot hold the estate.

    It is refreshed once per transaction of `session`, so the walk and the lookups that
    follow it in one request all see the same graph.
    """
    graph = cache_for(session)
    with graph.lock:
        marker = session.info.get(_FRESH_KEY)
        txn = session.get_transaction()
        if marker is not None and txn is not None and marker[0] is graph and marker[1] is txn:
            usable = marker[2]
        else:
            usable = graph.refresh(session)
            session.info[_FRESH_KEY] = (graph, session.get_transaction(), usable)
        yield graph if usable else None
