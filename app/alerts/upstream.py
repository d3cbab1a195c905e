"""What root-cause grouping needs from lineage: walks over the open graph, node facts.

Walks are the lineage package's (`app.lineage.traverse.walk`: a dataset's parents are
the jobs that write it, a job's parents are the datasets it reads; the in-process graph
cache when it holds the estate, the database otherwise), memoised for the lifetime of
one `LineageView` (one evaluation), so grouping 50 SLOs that share an upstream walks
each start once. Walks stop at `MAX_NODES` so a huge graph cannot stall the evaluation.
Node facts (run health, staleness by cadence) are alerting's own and loaded here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from app.lineage.traverse import DOWNSTREAM, UPSTREAM, walk
from app.store.models import Dataset, DatasetVersion, Job, Namespace, Run

MAX_NODES = 2000
BROKEN_RUN_STATES = ("FAILED", "ABORTED")
# A dataset is stale when unwritten for this many times its usual interval (the median
# of its last CADENCE_VERSIONS versions, needing CADENCE_MIN_GAPS gaps of history).
STALE_FACTOR = 2
STALE_FLOOR = timedelta(minutes=10)
CADENCE_VERSIONS = 9
CADENCE_MIN_GAPS = 3


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.1f} h" if hours >= 1 else f"{delta.total_seconds() / 60:.0f} min"


@dataclass(frozen=True, order=True)
class Node:
    kind: str  # "dataset" | "job"
    id: int

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"


@dataclass(frozen=True)
class NodeInfo:
    node: Node
    namespace: str
    name: str
    owners: tuple[str, ...]
    # Why it is considered broken, or None.
    reason: str | None = None
    run_state: str | None = None
    run_at: datetime | None = None

    @property
    def display(self) -> str:
        return f"{self.node.kind} {self.namespace}/{self.name}"


def owner_names(raw: Iterable[object] | None) -> tuple[str, ...]:
    """Owner names from the ownership facet as stored ([{"name": ..., "type": ...}])."""
    out = []
    for item in raw or ():
        name = item.get("name") if isinstance(item, dict) else item
        if isinstance(name, str) and name:
            out.append(name)
    return tuple(dict.fromkeys(out))


class LineageView:
    """Memoised walks and node facts for one evaluation."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._walks: dict[tuple[Node, bool, int], dict[Node, int]] = {}
        self._info: dict[Node, NodeInfo] = {}

    def walk(self, start: Node, up: bool = True, limit: int = MAX_NODES) -> dict[Node, int]:
        """Every node reachable from `start` (included, at 0) with its hop distance."""
        key = (start, up, limit)
        if key not in self._walks:
            seeds = {"datasets": [start.id]} if start.kind == "dataset" else {"jobs": [start.id]}
            found = walk(self.session, direction=UPSTREAM if up else DOWNSTREAM, limit=limit,
                         **seeds)
            reached = {Node("dataset", i): d for i, d in found.datasets.items()}
            reached.update((Node("job", i), d) for i, d in found.jobs.items())
            self._walks[key] = reached
        return self._walks[key]

    # -- facts -------------------------------------------------------------------------
    def load(self, nodes: Iterable[Node], now: datetime, stuck_after: timedelta) -> None:
        """Names, owners and run health of `nodes` (batched)."""
        todo = {n for n in nodes if n not in self._info}
        jobs = [n.id for n in todo if n.kind == "job"]
        datasets = [n.id for n in todo if n.kind == "dataset"]
        if jobs:
            stuck_since = now - stuck_after
            stuck = dict(
                self.session.execute(
                    select(Run.job_id, Run.started_at).where(
                        Run.job_id.in_(jobs),
                        Run.state == "RUNNING",
                        Run.started_at < stuck_since,
                    )
                ).all()
            )
            rows = self.session.execute(
                select(Job.id, Namespace.name, Job.name, Job.owners, Job.latest_run_state,
                       Job.latest_run_at)
                .join(Namespace, Namespace.id == Job.namespace_id)
                .where(Job.id.in_(jobs))
            )
            for job_id, ns, name, owners, state, at in rows:
                reason = None
                if state in BROKEN_RUN_STATES:
                    reason = f"latest run {state.lower()}"
                elif job_id in stuck:
                    reason = f"run stuck in RUNNING since {stuck[job_id]:%Y-%m-%d %H:%M} UTC"
                node = Node("job", job_id)
                self._info[node] = NodeInfo(node, ns, name, owner_names(owners), reason, state, at)
        if datasets:
            cadence = self._cadence(datasets)
            rows = self.session.execute(
                select(Dataset.id, Namespace.name, Dataset.name, Dataset.owners,
                       Dataset.last_modified_at)
                .join(Namespace, and_(Namespace.id == Dataset.namespace_id))
                .where(Dataset.id.in_(datasets))
            )
            for dataset_id, ns, name, owners, modified in rows:
                node = Node("dataset", dataset_id)
                reason = None
                usual = cadence.get(dataset_id)
                if usual is not None and modified is not None:
                    age = now - modified
                    if age > max(STALE_FACTOR * usual, STALE_FLOOR):
                        reason = (f"stale: last updated {_hours(age)} ago, "
                                  f"usually every {_hours(usual)}")
                self._info[node] = NodeInfo(node, ns, name, owner_names(owners), reason,
                                            run_at=modified)
        for node in todo - set(self._info):  # deleted meanwhile: keep going with a stub
            self._info[node] = NodeInfo(node, "?", f"#{node.id}", ())

    def _cadence(self, datasets: list[int]) -> dict[int, timedelta]:
        """Median gap between the last versions of each dataset, when there is history.

        This is how a dataset without its own SLO is known to be stale: it has not been
        written for STALE_FACTOR times its usual interval.
        """
        ranked = (
            select(
                DatasetVersion.dataset_id,
                DatasetVersion.event_time,
                func.row_number().over(
                    partition_by=DatasetVersion.dataset_id,
                    order_by=DatasetVersion.event_time.desc(),
                ).label("rn"),
            )
            .where(DatasetVersion.dataset_id.in_(datasets))
            .subquery()
        )
        times: dict[int, list[datetime]] = {}
        for dataset_id, at in self.session.execute(
            select(ranked.c.dataset_id, ranked.c.event_time).where(
                ranked.c.rn <= CADENCE_VERSIONS
            )
        ):
            times.setdefault(dataset_id, []).append(at)
        out = {}
        for dataset_id, stamps in times.items():
            stamps.sort()
            gaps = sorted(b - a for a, b in pairwise(stamps) if b > a)
            if len(gaps) >= CADENCE_MIN_GAPS:
                out[dataset_id] = gaps[len(gaps) // 2]
        return out

    def info(self, node: Node) -> NodeInfo:
        return self._info[node]


@dataclass(frozen=True)
class Cause:
    node: Node
    distance: int
    # Why: "latest run failed", "SLO orders-freshness burning", ...
    reason: str


def most_upstream_cause(
    view: LineageView,
    target: Node,
    burning: dict[Node, str],
    now: datetime,
    stuck_after: timedelta,
) -> Cause:
    """The broken node furthest upstream of `target` that has no broken node above it.

    Broken means: a job whose latest run failed or aborted or that has a run stuck in
    RUNNING, a dataset not written for twice its usual interval (stale), or a
    dataset/job that is itself the target of a burning SLO (`burning` maps such nodes
    to a reason). The target itself qualifies when nothing upstream is
    broken. Ties go to the greatest distance, then the smallest key, so the same graph
    always yields the same root and an incident's identity does not flap.
    """
    up = view.walk(target)
    view.load(up, now, stuck_after)

    def reason_of(node: Node) -> str | None:
        return view.info(node).reason or burning.get(node)

    broken = {n: d for n, d in up.items() if reason_of(n) is not None}
    if not broken:
        return Cause(target, 0, burning.get(target, "SLO burning"))
    roots = [n for n in broken if not any(o != n and o in broken for o in view.walk(n))]
    candidates = roots or list(broken)  # a cycle of broken nodes: pick deterministically
    best = min(candidates, key=lambda n: (-broken[n], n.kind != "job", n.id))
    return Cause(best, broken[best], reason_of(best) or "broken")
