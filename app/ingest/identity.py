"""Turning names into ids: namespaces, jobs and datasets (with symlink aliases).

Rows for these are never deleted, so a name-to-id map can be cached for the life of the
process. Ids learned inside a transaction only join the shared cache once it commits:
a rolled-back batch must not leave ids behind that point at nothing.
"""

from __future__ import annotations

import threading

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from app.store.dialect import insert_ignore
from app.store.models import Dataset, DatasetSymlink, Job, Namespace
from app.store.types import utcnow

Key = tuple[str, str]


class IdCache:
    """Committed name-to-id maps shared by every batch of one store."""

    def __init__(self, max_entries: int = 500_000) -> None:
        self.namespaces: dict[str, int] = {}
        self.jobs: dict[Key, int] = {}
        self.datasets: dict[Key, int] = {}
        self._max = max_entries
        self._lock = threading.Lock()

    def absorb(self, resolver: IdResolver) -> None:
        """Called after commit. Bounded so a huge estate cannot grow memory without limit."""
        with self._lock:
            for own, new in ((self.namespaces, resolver.namespaces), (self.jobs, resolver.jobs),
                             (self.datasets, resolver.datasets)):
                if len(own) + len(new) > self._max:
                    own.clear()
                own.update(new)


class IdResolver:
    def __init__(self, session: Session, cache: IdCache) -> None:
        self.session = session
        self.cache = cache
        self.namespaces: dict[str, int] = {}
        self.jobs: dict[Key, int] = {}
        self.datasets: dict[Key, int] = {}
        self._want_ns: set[str] = set()
        self._want_jobs: set[Key] = set()
        self._want_datasets: set[Key] = set()
        self._want_aliases: dict[Key, list[tuple[str, str, str | None]]] = {}

    # Gathering what a batch names -------------------------------------------------------
    def want_job(self, namespace: str, name: str) -> None:
        self._want_ns.add(namespace)
        self._want_jobs.add((namespace, name))

    def want_dataset(self, namespace: str, name: str, aliases: list[tuple[str, str, str | None]]) -> None:
        self._want_ns.add(namespace)
        self._want_datasets.add((namespace, name))
        if aliases:
            self._want_aliases.setdefault((namespace, name), []).extend(aliases)

    # Lookups after resolve() ------------------------------------------------------------
    def job(self, namespace: str, name: str) -> int:
        key = (namespace, name)
        return self.jobs.get(key) or self.cache.jobs[key]

    def dataset(self, namespace: str, name: str) -> int:
        key = (namespace, name)
        return self.datasets.get(key) or self.cache.datasets[key]

    def job_ids(self) -> set[int]:
        return {self.job(*k) for k in self._want_jobs}

    def dataset_ids(self) -> set[int]:
        return {self.dataset(*k) for k in self._want_datasets}

    def resolve(self) -> None:
        self._resolve_namespaces()
        self._resolve_jobs()
        self._resolve_datasets()

    def _resolve_namespaces(self) -> None:
        missing = {n for n in self._want_ns if n not in self.cache.namespaces}
        if not missing:
            return
        rows = [{"name": n, "created_at": utcnow()} for n in sorted(missing)]
        self.session.execute(insert_ignore(self.session, Namespace, ["name"]), rows)
        for ns_id, name in self.session.execute(select(Namespace.id, Namespace.name).where(Namespace.name.in_(missing))):
            self.namespaces[name] = ns_id

    def _ns(self, name: str) -> int:
        return self.namespaces.get(name) or self.cache.namespaces[name]

    def _resolve_jobs(self) -> None:
        missing = sorted(k for k in self._want_jobs if k not in self.cache.jobs)
        if not missing:
            return
        now = utcnow()
        rows = [
            {"namespace_id": self._ns(ns), "name": name, "owners": [], "tags": [], "facets": {},
             "created_at": now, "updated_at": now}
            for ns, name in missing
        ]
        self.session.execute(insert_ignore(self.session, Job, ["namespace_id", "name"]), rows)
        by_key = {(self._ns(ns), name): (ns, name) for ns, name in missing}
        for job_id, ns_id, name in self.session.execute(
            select(Job.id, Job.namespace_id, Job.name).where(tuple_(Job.namespace_id, Job.name).in_(list(by_key)))
        ):
            self.jobs[by_key[(ns_id, name)]] = job_id

    def _resolve_datasets(self) -> None:
        missing = sorted(k for k in self._want_datasets if k not in self.cache.datasets)
        if missing:
            # A name registered as another dataset's symlink resolves to that dataset.
            for ds_id, ns, name in self.session.execute(
                select(DatasetSymlink.dataset_id, DatasetSymlink.namespace, DatasetSymlink.name)
                .where(tuple_(DatasetSymlink.namespace, DatasetSymlink.name).in_(missing))
            ):
                self.datasets[(ns, name)] = ds_id
            missing = [k for k in missing if k not in self.datasets]
        if missing:
            now = utcnow()
            rows = [
                {"namespace_id": self._ns(ns), "name": name, "owners": [], "tags": [], "facets": {},
                 "created_at": now, "updated_at": now}
                for ns, name in missing
            ]
            self.session.execute(insert_ignore(self.session, Dataset, ["namespace_id", "name"]), rows)
            by_key = {(self._ns(ns), name): (ns, name) for ns, name in missing}
            for ds_id, ns_id, name in self.session.execute(
                select(Dataset.id, Dataset.namespace_id, Dataset.name)
                .where(tuple_(Dataset.namespace_id, Dataset.name).in_(list(by_key)))
            ):
                self.datasets[by_key[(ns_id, name)]] = ds_id
        self._register_aliases()

    def _register_aliases(self) -> None:
        rows = []
        for key, aliases in self._want_aliases.items():
            target = self.dataset(*key)
            for ns, name, type_ in aliases:
                if (ns, name) == key or (ns, name) in self._want_datasets:
                    continue  # an identifier the batch also uses directly stays its own dataset
                rows.append({"namespace": ns, "name": name, "type": type_, "dataset_id": target})
        if rows:
            unique = {(r["namespace"], r["name"]): r for r in rows}
            # An identifier that is already a dataset of its own stays one: merging two
            # existing histories behind the user's back would be worse than a duplicate.
            for ns, name in self.session.execute(
                select(Namespace.name, Dataset.name)
                .join(Namespace, Namespace.id == Dataset.namespace_id)
                .where(tuple_(Namespace.name, Dataset.name).in_(list(unique)))
            ):
                unique.pop((ns, name), None)
            if not unique:
                return
            unique = list(unique.values())
            self.session.execute(insert_ignore(self.session, DatasetSymlink, ["namespace", "name"]), unique)
