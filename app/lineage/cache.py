"""The current job–dataset graph held in process memory, kept exact by a change log.

Why: a graph walk is one index probe per node in the database (a few microseconds each,
plus a round trip per level) against a dict lookup in memory (a tenth of a microsecond).
For a hub whose blast radius is 20k nodes that is the difference between a few
milliseconds and a few hundred. So the open edges live here as adjacency lists, and the
database stays the truth: triggers (migration 0003) append the job id of every changed
edge to `lineage_edge_log`, and each walk first reads the log rows it has not seen and
re-reads the open edges of those jobs. A walk therefore always sees every edge committed
before it started, on every replica, with no invalidation messages.

`ChangeLog` says which log rows are new, on both databases. The log keeps its newest
rows only (the triggers prune it); a cache that fell further behind than that reloads
everything. Estates larger than `max_edges` (setting `lineage_cache_max_edges`) are not
cached and walks go to the database. The node metadata impact answers show is cached
the same way (nodecache.py).
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from app.lineage.sql import chunks, json_array, pg_array_literal
from app.settings import get_settings
from app.store.dialect import is_postgres

# A too-big estate is not re-counted on every walk, only this often.
RECHECK_SECONDS = 600.0

_FRESH_KEY = "dataslo.lineage.cache"

_caches: weakref.WeakKeyDictionary[Engine, GraphCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


class ChangeLog:
    """Follows a trigger-filled change log (`seq`, payload columns, writer's `txid`).

    Which rows are new: on SQLite writers are serialised, so log order is commit order
    and a sequence watermark is exact. On PostgreSQL a transaction can take a lower
    sequence number and commit after a higher one, so the watermark is the snapshot xmin
    instead (every transaction older than it has finished): rows whose writer's txid is at
    or above the previous xmin are re-read, which may repeat some (harmless) but never
    misses one. The triggers keep only the newest rows; a follower that fell further
    behind is told so and must reload everything.
    """

    def __init__(self, table: str, payload: tuple[str, ...]) -> None:
        self.table = table
        self.payload = payload
        self.watermark = 0  # last seq (SQLite) or snapshot xmin (PostgreSQL)
        self.max_seq = 0

    @staticmethod
    def _mark_sql(postgres: bool, table: str) -> str:
        return ("txid_snapshot_xmin(txid_current_snapshot())" if postgres
                else f"(SELECT coalesce(max(seq), 0) FROM {table})")

    def start(self, session: Session) -> None:
        """Follow from now on; called before a full load, so nothing after it is missed."""
        mark, last = session.execute(text(
            f"SELECT {self._mark_sql(is_postgres(session), self.table)}, "
            f"(SELECT coalesce(max(seq), 0) FROM {self.table})")).one()
        self.watermark, self.max_seq = int(mark), int(last)

    def changes(self, session: Session) -> tuple[list[tuple], bool]:
        """Payloads logged since the last call, and whether rows were pruned unread.

        One statement: the new rows, the new watermark and the oldest and newest kept
        rows, all from the same snapshot, so nothing committed between reading the
        watermark and reading the rows can fall through.
        """
        postgres = is_postgres(session)
        column, since = ("txid", self.watermark) if postgres else ("seq", self.watermark + 1)
        pad = "NULL, " * (len(self.payload) - 1)  # the value travels in the last column
        rows = session.execute(
            text(f"SELECT seq, {', '.join(self.payload)} FROM {self.table} WHERE {column} >= :since "
                 f"UNION ALL SELECT -1, {pad}{self._mark_sql(postgres, self.table)} "
                 f"UNION ALL SELECT -2, {pad}min(seq) FROM {self.table} "
                 f"UNION ALL SELECT -3, {pad}max(seq) FROM {self.table}"),
            {"since": since},
        ).all()
        special = {row[0]: row[-1] for row in rows if row[0] < 0}
        oldest, newest = special[-2], special[-3]
        behind = oldest is not None and oldest > self.max_seq + 1
        self.max_seq = max(self.max_seq, newest or 0)
        self.watermark = int(special[-1])
        return [tuple(row[1:]) for row in rows if row[0] >= 0], behind


class GraphCache:
    """Adjacency of the open edges: readers/writers per dataset, inputs/outputs per job."""

    def __init__(self, max_edges: int | None = None) -> None:
        self.max_edges = get_settings().lineage_cache_max_edges if max_edges is None else max_edges
        self.lock = threading.RLock()
        self.loaded = False
        self.too_big = False
        self.log = ChangeLog("lineage_edge_log", ("job_id",))
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
        """Bring the cache up to date; False when the estate is too big to hold."""
        if self.too_big and time.monotonic() - self.checked_at < RECHECK_SECONDS:
            return False
        if not self.loaded:
            self.log.start(session)
            self._load_all(session)
            return not self.too_big
        changed, behind = self.log.changes(session)
        if behind or (changed and self.too_big):
            self._load_all(session)  # we fell behind the pruned log: start over
        elif changed:
            self._reload_jobs(session, sorted({job_id for (job_id,) in changed}), is_postgres(session))
        return not self.too_big

    def _load_all(self, session: Session) -> None:
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


class Refreshable(Protocol):
    lock: threading.RLock
    loaded: bool

    def refresh(self, session: Session) -> bool: ...


def engine_of(session: Session) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


def install(engine: Engine, max_edges: int) -> GraphCache:
    """The engine's graph cache, created with this size limit (the service's setting)
    unless it exists already."""
    with _caches_lock:
        cache = _caches.get(engine)
        if cache is None:
            cache = _caches[engine] = GraphCache(max_edges)
        return cache


def cache_for(session: Session) -> GraphCache:
    return install(engine_of(session), get_settings().lineage_cache_max_edges)


@contextmanager
def refreshed(session: Session, cache: Refreshable, key: str) -> Iterator[bool]:
    """Hold `cache` locked, brought up to date once per transaction of `session`, so the
    walk and the lookups that follow it in one request all see the same state. Yields
    whether the cache is usable (False when it cannot hold the estate)."""
    with cache.lock:
        marker = session.info.get(key)
        txn = session.get_transaction()
        if marker is not None and txn is not None and marker[0] is cache and marker[1] is txn:
            usable = marker[2]
        else:
            try:
                usable = cache.refresh(session)
            except BaseException:
                # The log may have been read but not applied: start over next time rather
                # than keep a cache that silently misses those changes.
                cache.loaded = False
                raise
            session.info[key] = (cache, session.get_transaction(), usable)
        yield usable


@contextmanager
def current_graph(session: Session) -> Iterator[GraphCache | None]:
    """The graph cache brought up to date and held locked; None when it cannot hold the estate."""
    graph = cache_for(session)
    with refreshed(session, graph, _FRESH_KEY) as usable:
        yield graph if usable else None
