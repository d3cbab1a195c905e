"""Every Prometheus metric of the service, in one place.

Labels are bounded: `endpoint` and `status` come from a fixed set of routes and codes,
`outcome` from {stored, duplicate, rejected}; per-SLO series are labelled by SLO name and
so grow with the number of SLOs, never with data volume.

Per-SLO series (see `SLO_LABELS`), one set per evaluated SLO (a selector SLO has one per
matching dataset or job):
- `slo`: the SLO definition's name;
- `target`: what it measures, as a lineage node id: `dataset:<namespace>:<name>` or
  `job:<namespace>:<name>`;
- `owner`, `tier`: from the definition ('' when unset), for routing and dashboards;
- `window` (SLI and burn rate): 5m, 30m, 1h, 2h, 6h, 1d, 3d, any custom alert window,
  and `period` (the SLO period, rolling or calendar). A window without events has no
  SLI and no burn rate: its series is absent, never 0 ("no data" is not "no errors");
- `severity` (condition): page | ticket.
Series of a deleted SLO are removed, so cardinality is bounded by the number of SLOs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

SLO_LABELS = ("slo", "target", "owner", "tier")


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
        self._slo_metrics()

    def record_commit(self, received: int, stored: int, seconds: float) -> None:
        self.ingest_events.labels("stored").inc(stored)
        self.ingest_events.labels("duplicate").inc(received - stored)
        self.ingest_commit_seconds.observe(seconds)
        self.ingest_group_events.observe(received)

    # -- SLOs ----------------------------------------------------------------------------

    def _slo_metrics(self) -> None:
        r = self.registry
        self.slo_objective = Gauge("dataslo_slo_objective_ratio", "The SLO's objective (e.g. 0.999).",
                                   SLO_LABELS, registry=r)
        self.sli = Gauge("dataslo_sli_ratio", "Good over total events (or time slices) in the window.",
                         (*SLO_LABELS, "window"), registry=r)
        self.sli_events = Gauge(
            "dataslo_sli_window_events",
            "Events (or time slices) in the window: the denominator of the SLI, which the "
            "minimum-events guard of the burn-rate conditions checks.",
            (*SLO_LABELS, "window"), registry=r)
        self.budget_remaining = Gauge(
            "dataslo_error_budget_remaining_ratio",
            "Share of the period's error budget left; negative when overspent, 1 with no data.",
            SLO_LABELS, registry=r)
        self.burn_rate = Gauge("dataslo_burn_rate", "Error ratio over the allowed error ratio (1 - objective).",
                               (*SLO_LABELS, "window"), registry=r)
        self.condition_active = Gauge(
            "dataslo_slo_condition_active",
            "1 while a burn-rate condition of this severity holds (a page suppresses the ticket).",
            (*SLO_LABELS, "severity"), registry=r)
        self.slo_no_data = Gauge("dataslo_slo_no_data", "1 while the SLO period holds no events at all.",
                                 SLO_LABELS, registry=r)
        # mode: full (window sums rebuilt from the store) | incremental
        self.slo_passes = Counter("dataslo_slo_evaluation_passes", "SLO evaluation passes, by mode.",
                                  ["mode"], registry=r)
        self.slo_pass_seconds = Histogram(
            "dataslo_slo_evaluation_seconds", "Duration of one evaluation pass over every SLO, by mode.",
            ["mode"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
            registry=r)
        self.slo_evaluations = Counter("dataslo_slo_evaluations", "SLO evaluations whose numbers changed.",
                                       registry=r)
        self.slo_verdicts = Counter("dataslo_slo_verdicts_written",
                                    "Outcome verdicts written (inserted, changed or withdrawn).", registry=r)
        self.slo_pass_errors = Counter("dataslo_slo_evaluation_errors", "Evaluation passes that failed.",
                                       registry=r)
        # slo id -> (labels, windows with an SLI, windows with a burn rate, all windows)
        self._slo_series: dict[int, tuple[tuple[str, ...], set[str], set[str], set[str]]] = {}

    def record_slo_pass(self, stats: Any, evaluations: Iterable[Any], removed: Iterable[Any] = ()) -> None:
        """Export one pass (`app.slo.evaluation.PassStats` and its `Evaluation`s)."""
        self.slo_passes.labels(stats.mode).inc()
        self.slo_pass_seconds.labels(stats.mode).observe(stats.seconds)
        self.slo_evaluations.inc(stats.changed)
        self.slo_verdicts.inc(stats.verdicts_written)
        for unit in removed:
            self._drop_slo(unit.id)
        for e in evaluations:
            labels = (e.name, e.target, e.owner or "", e.tier or "")
            known = self._slo_series.get(e.slo_id)
            if known is not None and known[0] == labels and not e.changed:
                continue
            if known is not None and known[0] != labels:
                self._drop_slo(e.slo_id)
                known = None
            self._export_slo(e.slo_id, labels, e.report, known)

    def _export_slo(self, slo_id: int, labels: tuple[str, ...], report: Any, known: Any) -> None:
        old_windows, old_burns = (known[1], known[2]) if known else (set(), set())
        self.slo_objective.labels(*labels).set(float(report.objective))
        self.budget_remaining.labels(*labels).set(float(report.budget.remaining))
        self.slo_no_data.labels(*labels).set(1 if report.budget.no_data else 0)
        windows, burns = set(), set()
        for name, w in report.windows.items():
            self.sli_events.labels(*labels, name).set(w.counts.total)
            if w.counts.total:
                self.sli.labels(*labels, name).set(w.counts.good / w.counts.total)
                windows.add(name)
            if w.burn_rate is not None:
                self.burn_rate.labels(*labels, name).set(float(w.burn_rate))
                burns.add(name)
        for name in old_windows - windows:
            self.sli.remove(*labels, name)
        for name in old_burns - burns:
            self.burn_rate.remove(*labels, name)
        active = {c.condition.severity for c in report.active}
        for severity in ("page", "ticket"):
            self.condition_active.labels(*labels, severity).set(1 if severity in active else 0)
        self._slo_series[slo_id] = (labels, windows, burns, set(report.windows))

    def _drop_slo(self, slo_id: int) -> None:
        known = self._slo_series.pop(slo_id, None)
        if known is None:
            return
        labels, windows, burns, every = known
        for name in every:
            self.sli_events.remove(*labels, name)
        for gauge in (self.slo_objective, self.budget_remaining, self.slo_no_data):
            gauge.remove(*labels)
        for name in windows:
            self.sli.remove(*labels, name)
        for name in burns:
            self.burn_rate.remove(*labels, name)
        for severity in ("page", "ticket"):
            self.condition_active.remove(*labels, severity)
