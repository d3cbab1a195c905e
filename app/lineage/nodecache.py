"""What impact answers show about each node, held in process memory and kept exact.

Why: a hub's blast radius at 100k datasets is 15k-30k nodes, and reading their names,
owners and run states from the database (then decoding them) cost 0.7-1.2 s per answer,
thirty times the walk itself. The rows are small and change only when ingestion writes
them, so each process keeps a copy: triggers (migration 0008) log the id of every dataset
or job row inserted, deleted, or updated in a shown column, and the copy catches up from
that log (cache.ChangeLog) before each answer, exactly as the graph cache does. An answer
therefore reflects every change committed before it started, on every replica.

Entries are tuples of strings, datetimes and nested tuples only (owners stay JSON text
until an entry is shown), so the garbage collector untracks them and a 150k-node copy
does not slow down every later collection; repeated values (namespaces, owner lists) are
shared. The copy is used only while the graph cache holds the estate, and the same
setting bounds both (edges there, datasets plus jobs here).
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, NamedTuple

import orjson
from sqlalchemy import Engine, Text, cast, select, text
from sqlalchemy.orm import Session, sessionmaker

from app.lineage.cache import (
    RECHECK_SECONDS,
    ChangeLog,
    cache_for,
    current_graph,
    engine_of,
    install,
    refreshed,
)
from app.lineage.sql import chunks, id_in
from app.store.dialect import is_postgres
from app.store.models import Dataset, Job, Namespace

log = logging.getLogger("dataslo.lineage")

FAILING_STATES = frozenset({"FAILED", "ABORTED"})

_FRESH_KEY = "dataslo.lineage.nodecache"
_caches: weakref.WeakKeyDictionary[Engine, NodeCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


class DatasetMeta(NamedTuple):
    namespace: str
    name: str
    owners_json: str
    updated_at: datetime | None


class JobMeta(NamedTuple):
    namespace: str
    name: str
    owners_json: str
    run_state: str | None
    run_at: datetime | None


def owner_names(owners: list[Any]) -> tuple[str, ...]:
    """Distinct names of an ownership facet's owners (dicts with `name`, or bare strings)."""
    names = set()
    for owner in owners or []:
        name = owner.get("name") if isinstance(owner, dict) else owner
        if name:
            names.add(str(name))
    return tuple(sorted(names))


def parse_owners(raw: str | None) -> list[Any]:
    # Owners are read as text and parsed here: most lists are empty, and orjson is several
    # times faster than the driver's json.loads on the rest.
    return orjson.loads(raw) if raw and raw != "[]" else []


class NodeStore:
    """Node metadata by id, built from rows; the cache keeps one whole, and an answer
    that cannot use the cache builds one for just the nodes it reached."""

    def __init__(self) -> None:
        self.datasets: dict[int, DatasetMeta] = {}
        self.jobs: dict[int, JobMeta] = {}
        # Owners per node as an index into `owner_sets`: a hub's roll-up counts 30k small
        # ints in one C-level pass (hashing the name tuples themselves cost 3x as much).
        self.dataset_owners: dict[int, int] = {}
        self.job_owners: dict[int, int] = {}
        self.owner_sets: list[tuple[str, ...]] = []
        self._owner_index: dict[tuple[str, ...], int] = {}
        self.failing: set[int] = set()  # jobs whose latest run failed or was aborted
        self._shared: dict[Any, Any] = {}

    def _share(self, value: Any) -> Any:
        return self._shared.setdefault(value, value)

    def _owner_set(self, names: tuple[str, ...]) -> int:
        index = self._owner_index.get(names)
        if index is None:
            index = self._owner_index[names] = len(self.owner_sets)
            self.owner_sets.append(names)
        return index

    def load(self, session: Session, dataset_ids: list[int] | None, job_ids: list[int] | None) -> None:
        """Read these ids (None: every row) and replace them; ids with no row are removed."""
        postgres = is_postgres(session)
        for model, ids in ((Dataset, dataset_ids), (Job, job_ids)):
            for part in [None] if ids is None else chunks(ids):
                found = self._read(session, model, part, postgres)
                for missing in set(part or ()) - found:
                    self._drop(model, missing)

    def _read(self, session: Session, model: Any, ids: list[int] | None, postgres: bool) -> set[int]:
        last = [model.last_modified_at] if model is Dataset else [model.latest_run_state,
                                                                   model.latest_run_at]
        stmt = (select(model.id, Namespace.name, model.name, cast(model.owners, Text), *last)
                .join(Namespace, Namespace.id == model.namespace_id))
        if ids is not None:
            stmt = stmt.where(id_in(model.id, ids, postgres))
        found = set()
        share = self._share
        for node_id, ns, name, raw, *rest in session.execute(stmt):
            raw = share(raw or "[]")
            names = self._owner_set(owner_names(parse_owners(raw)))
            if model is Dataset:
                self.datasets[node_id] = DatasetMeta(share(ns), name, raw, rest[0])
                self.dataset_owners[node_id] = names
            else:
                self.jobs[node_id] = JobMeta(share(ns), name, raw, share(rest[0]), rest[1])
                self.job_owners[node_id] = names
                if rest[0] in FAILING_STATES:
                    self.failing.add(node_id)
                else:
                    self.failing.discard(node_id)
            found.add(node_id)
        return found

    def _drop(self, model: Any, node_id: int) -> None:
        if model is Dataset:
            self.datasets.pop(node_id, None)
            self.dataset_owners.pop(node_id, None)
        else:
            self.jobs.pop(node_id, None)
            self.job_owners.pop(node_id, None)
            self.failing.discard(node_id)


class NodeCache(NodeStore):
    """The whole estate's node metadata, caught up from `lineage_node_log` before use.

    Bounded like the graph: past `max_nodes` datasets plus jobs it holds nothing and
    answers read the database (the count is checked again every RECHECK_SECONDS).
    """

    def __init__(self, max_nodes: int) -> None:
        super().__init__()
        self.max_nodes = max_nodes
        self.lock = threading.RLock()
        self.loaded = False
        self.too_big = False
        self.checked_at = 0.0
        self.log = ChangeLog("lineage_node_log", ("kind", "node_id"))

    def refresh(self, session: Session) -> bool:
        """Bring the copy up to date; False when the estate is too big to hold."""
        if self.too_big and time.monotonic() - self.checked_at < RECHECK_SECONDS:
            return False
        if not self.loaded or self.too_big:
            self._load_all(session)
            return not self.too_big
        changed, behind = self.log.changes(session)
        if behind:
            self._load_all(session)
        elif changed:
            ids: dict[str, set[int]] = {"d": set(), "j": set()}
            for kind, node_id in changed:
                ids[kind].add(node_id)
            self.load(session, sorted(ids["d"]), sorted(ids["j"]))
            if len(self.datasets) + len(self.jobs) > self.max_nodes:
                self._load_all(session)  # counts again, marks it too big and frees it
        return not self.too_big

    def _load_all(self, session: Session) -> None:
        self.log.start(session)
        self.datasets, self.jobs, self.failing, self._shared = {}, {}, set(), {}
        self.dataset_owners, self.job_owners, self.owner_sets, self._owner_index = {}, {}, [], {}
        count = session.execute(text(
            "SELECT (SELECT count(*) FROM datasets) + (SELECT count(*) FROM jobs)")).scalar_one()
        self.loaded = True
        self.too_big = count > self.max_nodes
        self.checked_at = time.monotonic()
        if not self.too_big:
            self.load(session, None, None)


def node_cache_for(session: Session) -> NodeCache:
    """The engine's node cache, bounded by the same setting as its graph cache."""
    graph = cache_for(session)
    engine = engine_of(session)
    with _caches_lock:
        cache = _caches.get(engine)
        if cache is None:
            cache = _caches[engine] = NodeCache(graph.max_edges)
        return cache


@contextmanager
def current_nodes(session: Session) -> Iterator[NodeCache | None]:
    """The node cache brought up to date (once per transaction) and held locked; None
    when it cannot hold the estate."""
    cache = node_cache_for(session)
    with refreshed(session, cache, _FRESH_KEY) as usable:
        yield cache if usable else None


def warm(session_factory: sessionmaker[Session], max_edges: int) -> None:
    """Load the graph and node caches of the service's engine ahead of the first request.

    Run in the background at start-up: the first blast radius at 100k datasets would
    otherwise pay a few seconds of loading. A failure here only leaves the loading to that
    first request, so it is logged, not raised.
    """
    started = time.perf_counter()
    try:
        with session_factory() as session:
            install(engine_of(session), max_edges)
            with current_graph(session) as graph:
                if graph is None:
                    log.info("lineage estate larger than %d edges: walks go to the database", max_edges)
                    return
                with current_nodes(session) as nodes:
                    if nodes is None:
                        log.info("lineage estate larger than %d nodes: impact reads the database",
                                 max_edges)
                        return
                    log.info("lineage caches loaded: %d edges, %d datasets, %d jobs in %.1f s",
                             graph.edge_count, len(nodes.datasets), len(nodes.jobs),
                             time.perf_counter() - started)
    except Exception:
        log.exception("loading the lineage caches at start-up failed; the first request loads them")
