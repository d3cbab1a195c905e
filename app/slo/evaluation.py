"""What one SLO evaluation pass hands on: each SLO's report, the pass's own figures, and
the signals alerting consumes (kept apart from the pass so readers of results, like the
alerting hook and the metrics, need not know how a pass works)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from app.slo.burn import BurnReport
from app.slo.signals import SloSignal


@dataclass(frozen=True)
class Evaluation:
    slo_id: int
    name: str
    target_kind: Literal["dataset", "job"]
    target_id: int | None
    target_namespace: str
    target_name: str
    owner: str | None
    tier: str | None
    labels: dict[str, str]
    evaluated_at: datetime
    report: BurnReport
    # False when the numbers equal the previous pass's (nothing new was stored).
    changed: bool

    @property
    def target(self) -> str:
        return f"{self.target_kind}:{self.target_namespace}:{self.target_name}"


@dataclass(frozen=True)
class PassStats:
    mode: Literal["full", "incremental"]
    slos: int
    changed: int
    recomputed: int  # SLOs recomputed over their whole period
    verdicts_written: int
    events: int
    seconds: float
    # Seconds spent in each stage of the pass, in order (for benchmarks and logs).
    phases: dict[str, float] = field(default_factory=dict)


def signals_for(evaluations: list[Evaluation]) -> list[SloSignal]:
    """One signal per evaluation of an SLO whose target exists (alerting's contract)."""
    out = []
    for e in evaluations:
        if e.target_id is None:
            continue
        r = e.report
        labels = {"slo": e.name, "target": e.target, "namespace": e.target_namespace,
                  **({"owner": e.owner} if e.owner else {}), **({"tier": e.tier} if e.tier else {}),
                  **e.labels}
        out.append(SloSignal(
            slo_id=e.slo_id, slo_name=e.name, evaluated_at=e.evaluated_at,
            active_severity=r.severity, state=r.state, target_kind=e.target_kind,
            target_id=e.target_id, target_namespace=e.target_namespace, target_name=e.target_name,
            labels=labels, burn_rates={name: w.burn_rate for name, w in r.windows.items()},
            budget_remaining=None if r.budget.no_data else r.budget.remaining,
            conditions=[c.condition.name for c in r.conditions if c.holds],
        ))
    return out
