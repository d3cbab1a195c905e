"""What the SLO engine hands on to alerting, as plain data.

Each evaluation becomes one `SloSignal`; alerting never looks inside SLO internals, so the
two can change independently (the glue is in app/main.py). The contract lives here, with
its producer, because data flows one way: SLOs never import alerting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from typing import Literal

Severity = Literal["page", "ticket"]


@dataclass(frozen=True)
class SloSignal:
    slo_id: int
    slo_name: str
    evaluated_at: datetime
    # The most severe condition that holds now (a page suppresses the ticket), or None.
    active_severity: Severity | None
    # "ok" | "burning" | "breaching" | "no_data"
    state: str
    # What the SLO is about, for root-cause grouping through lineage.
    target_kind: Literal["dataset", "job"]
    target_id: int
    target_namespace: str
    target_name: str
    # owner, team, tier, namespace, slo ... for routing.
    labels: dict[str, str] = field(default_factory=dict)
    # window name ("5m", "1h", ..., "period") -> burn rate; None means no data.
    burn_rates: dict[str, Fraction | None] = field(default_factory=dict)
    budget_remaining: Fraction | None = None
    # Which condition rows hold, e.g. ["page:1h/5m"], for the notification text.
    conditions: list[str] = field(default_factory=list)
