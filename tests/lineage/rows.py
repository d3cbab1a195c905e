"""Hand-built estates written straight into the tables, for tests of the query layer
that must not depend on how ingestion derives edges (exact timestamps, odd shapes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.store.models import Dataset, DatasetSymlink, Job, LineageEdge, Namespace

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


class Estate:
    """Creates namespaces, datasets, jobs and edges by name; ids are looked up on demand."""

    def __init__(self, session: Session, namespace: str = "ns") -> None:
        self.session = session
        self.namespace = namespace
        self.ds: dict[str, int] = {}
        self.jobs: dict[str, int] = {}
        self._ns: dict[str, int] = {}

    def ns_id(self, name: str) -> int:
        if name not in self._ns:
            existing = self.session.scalar(select(Namespace.id).where(Namespace.name == name))
            if existing is None:
                row = Namespace(name=name)
                self.session.add(row)
                self.session.flush()
                existing = row.id
            self._ns[name] = existing
        return self._ns[name]

    def dataset(self, name: str, namespace: str | None = None, **kw) -> int:
        if name not in self.ds:
            row = Dataset(namespace_id=self.ns_id(namespace or self.namespace), name=name, **kw)
            self.session.add(row)
            self.session.flush()
            self.ds[name] = row.id
        return self.ds[name]

    def job(self, name: str, namespace: str | None = None, **kw) -> int:
        if name not in self.jobs:
            row = Job(namespace_id=self.ns_id(namespace or self.namespace), name=name, **kw)
            self.session.add(row)
            self.session.flush()
            self.jobs[name] = row.id
        return self.jobs[name]

    def reads(self, job: str, *datasets: str, since: int = 0, until: int | None = None) -> None:
        self._edges(job, datasets, "in", since, until)

    def writes(self, job: str, *datasets: str, since: int = 0, until: int | None = None) -> None:
        self._edges(job, datasets, "out", since, until)

    def _edges(self, job, datasets, direction, since, until) -> None:
        job_id = self.job(job)
        for name in datasets:
            self.session.add(
                LineageEdge(
                    job_id=job_id, dataset_id=self.dataset(name), direction=direction,
                    valid_from=at(since), valid_to=None if until is None else at(until),
                )
            )
        self.session.flush()

    def symlink(self, dataset: str, namespace: str, name: str) -> None:
        self.session.add(
            DatasetSymlink(namespace=namespace, name=name, type="TABLE", dataset_id=self.dataset(dataset))
        )
        self.session.flush()
