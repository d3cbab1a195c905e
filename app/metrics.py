"""Every Prometheus metric of the service, in one place.

Labels are bounded: `endpoint` and `status` come from a fixed set of routes and codes,
`outcome` from {stored, duplicate, rejected}; per-SLO series are labelled by SLO name and
so grow with the number of SLOs, never with data volume.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class ServiceMetrics:
    """A registry per app instance, so tests and several apps in one process don't clash."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        # outcome: stored | duplicate | rejected
        self.ingest_events = Counter(
            "dataslo_ingest_events", "OpenLineage events received, by outcome.", ["outcome"],
            registry=self.registry,
        )
        self.ingest_commit_seconds = Histogram(
            "dataslo_ingest_commit_seconds", "Time to store and commit one group of events.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.ingest_group_events = Histogram(
            "dataslo_ingest_group_events", "Events per group commit.",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024), registry=self.registry,
        )

    def record_commit(self, received: int, stored: int, seconds: float) -> None:
        self.ingest_events.labels("stored").inc(stored)
        self.ingest_events.labels("duplicate").inc(received - stored)
        self.ingest_commit_seconds.observe(seconds)
        self.ingest_group_events.observe(received)
