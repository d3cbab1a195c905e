"""Evaluations as stored documents and as API answers.

What is stored per evaluation is what the report is computed from: the good/total
counts of every window, the objective and the definition revision (`history_document`,
a few hundred bytes). Everything else in a report (ratios, burn rates, budget,
conditions) is a pure function of those and the definition, so the status endpoint
recomputes it for the one evaluation it shows, and charts compute burn rates from the
counts exactly. Storing the full report for every changed evaluation cost ~2 KB and
~100 us of a pass per SLO; documents stored that way (with "windows") are still read.

`report_document` keeps every ratio exact ("p/q" strings of the fractions the engine
computed). The API answer gives floats for charts and humans, plus the exact strings
of the values alerting thresholds use.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

from app.slo.burn import BurnReport, Counts
from app.slo.windows import PERIOD, REPORT_WINDOWS, format_duration


def exact(value: Fraction | None) -> str | None:
    return None if value is None else str(value)


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def report_document(report: BurnReport) -> dict[str, Any]:
    budget = report.budget
    return {
        "state": report.state,
        "severity": report.severity,
        "objective": exact(report.objective),
        "budget": {"total": exact(budget.total), "consumed": budget.consumed,
                   "remaining": exact(budget.remaining), "left": exact(budget.left),
                   "no_data": budget.no_data},
        "time_to_exhaustion_s": _seconds(report.time_to_exhaustion),
        "windows": {
            name: {"good": w.counts.good, "total": w.counts.total,
                   "error_ratio": exact(w.error_ratio), "burn_rate": exact(w.burn_rate),
                   "sufficient": w.sufficient,
                   "time_to_exhaustion_s": _seconds(w.time_to_exhaustion)}
            for name, w in report.windows.items()
        },
        "conditions": [
            {"name": c.condition.name, "severity": c.condition.severity,
             "long": format_duration(c.condition.long), "short": format_duration(c.condition.short),
             "factor": exact(c.condition.factor), "long_burn": exact(c.long_burn),
             "short_burn": exact(c.short_burn), "holds": c.holds, "suppressed": c.suppressed,
             "reason": c.reason}
            for c in report.conditions
        ],
    }


def history_document(report: BurnReport, revision: int) -> dict[str, Any]:
    return {"v": 2, "revision": revision, "objective": exact(report.objective),
            "counts": {name: [w.counts.good, w.counts.total] for name, w in report.windows.items()}}


def stored_counts(doc: dict[str, Any]) -> dict[str, Counts]:
    """Window counts of a stored document, whichever shape it was stored in."""
    if "counts" in doc:
        return {name: Counts(g, t) for name, (g, t) in doc["counts"].items()}
    return {name: Counts(w["good"], w["total"]) for name, w in doc["windows"].items()}


def _burn_float(counts: Counts, objective: Fraction) -> float | None:
    return None if counts.total == 0 else float(Fraction(counts.bad, counts.total) / (1 - objective))


def _float(text: str | None) -> float | None:
    return None if text is None else float(Fraction(text))


def _window_order(name: str) -> tuple[int, float]:
    if name == PERIOD:
        return (2, 0.0)
    if name in REPORT_WINDOWS:
        return (0, REPORT_WINDOWS[name].total_seconds())
    return (1, 0.0)


def status_view(doc: dict[str, Any]) -> dict[str, Any]:
    """The API shape of a stored document: floats, SLI per window, exact thresholds."""
    windows = {}
    for name in sorted(doc["windows"], key=_window_order):
        w = doc["windows"][name]
        windows[name] = {
            "good": w["good"], "total": w["total"],
            "sli": None if w["total"] == 0 else w["good"] / w["total"],
            "error_ratio": _float(w["error_ratio"]),
            "burn_rate": _float(w["burn_rate"]),
            "sufficient": w["sufficient"],
            "no_data": w["total"] == 0,
            "time_to_exhaustion_s": w["time_to_exhaustion_s"],
        }
    budget = doc["budget"]
    return {
        "state": doc["state"],
        "severity": doc["severity"],
        "objective": _float(doc["objective"]),
        "budget": {"total": _float(budget["total"]), "consumed": budget["consumed"],
                   "remaining": _float(budget["remaining"]), "left": _float(budget["left"]),
                   "no_data": budget["no_data"]},
        "time_to_exhaustion_s": doc["time_to_exhaustion_s"],
        "windows": windows,
        "conditions": [
            {**c, "factor": _float(c["factor"]), "long_burn": _float(c["long_burn"]),
             "short_burn": _float(c["short_burn"])}
            for c in doc["conditions"]
        ],
        "exact": {
            "objective": doc["objective"],
            "budget_remaining": budget["remaining"],
            "burn_rates": {name: doc["windows"][name]["burn_rate"] for name in windows},
        },
    }


def history_points(
    rows: list[tuple[datetime, str, str | None, float | None, dict[str, Any]]],
    start: datetime, end: datetime, step: timedelta,
) -> list[dict[str, Any]]:
    """One point per step from `start` to `end`: the latest evaluation at or before it.

    Evaluations are stored when their numbers change, so carrying the last one forward
    is exact. Points before the first evaluation are omitted.
    """
    points = []
    i, current = 0, None
    at = start
    while at <= end:
        while i < len(rows) and rows[i][0] <= at:
            current = rows[i]
            i += 1
        if current is not None:
            _, state, severity, remaining, doc = current
            counts = stored_counts(doc)
            period = counts.get(PERIOD, Counts())
            if "counts" in doc:
                objective = Fraction(doc["objective"])
                rates = {name: _burn_float(c, objective) for name, c in counts.items()}
            else:
                rates = {name: _float(w["burn_rate"]) for name, w in doc["windows"].items()}
            points.append({
                "at": at, "evaluated_at": current[0], "state": state, "severity": severity,
                "budget_remaining": remaining,
                "sli": None if period.total == 0 else period.good / period.total,
                "burn_rates": {name: rates[name] for name in sorted(rates, key=_window_order)},
            })
        at += step
    return points
