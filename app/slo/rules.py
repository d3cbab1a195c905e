"""Prometheus recording and alerting rules equivalent to the built-in conditions.

For teams that alert from Prometheus rather than from dataslo: one rule group per SLO
definition, in the shape Sloth and Pyrra generate, over the metrics `/metrics` exports
(app/metrics.py). The burn rates are not recomputed in PromQL from the SLI: dataslo
exports them already computed exactly, and `1 - 0.999` in float64 is not 0.001, which
would make a rule fire at exactly the factor where dataslo does not.

- recording `dataslo:slo_burn_condition`: present, with the long window's burn rate as
  value, while one condition row holds: both windows strictly above the factor and the
  long window holding at least `min_events` events (or time slices);
- alerting `DataSLOBurnRatePage` / `DataSLOBurnRateTicket`: any row of that severity
  holds; the ticket is suppressed while a page holds, as dataslo does.

Factors given as budget shares depend on the period's length; for calendar windows the
exported factor is that of the current period (export again each period, or alert from
dataslo, which recomputes it).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import yaml

from app.slo.definitions import SLODefinition
from app.slo.fields import fraction_out
from app.slo.windows import format_duration

JOIN = "on (slo, target, owner, tier)"
RECORD = "dataslo:slo_burn_condition"
CONDITION_LABELS = "condition, long_window, short_window, factor"


def _number(value: Any) -> str:
    exact = fraction_out(value)
    return str(exact) if not isinstance(exact, str) else repr(float(value))


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def rule_group(slo: SLODefinition, at: datetime) -> dict[str, Any]:
    sel = f'slo="{_quote(slo.name)}"'
    rules: list[dict[str, Any]] = []
    for c in slo.conditions(at):
        long, short, factor = format_duration(c.long), format_duration(c.short), _number(c.factor)
        guard = max(slo.min_events or 0, 1)
        expr = (
            f'max without (window) (\n'
            f'  (dataslo_burn_rate{{{sel}, window="{long}"}} > {factor})\n'
            f'  and {JOIN} (dataslo_burn_rate{{{sel}, window="{short}"}} > {factor})\n'
            f'  and {JOIN} (dataslo_sli_window_events{{{sel}, window="{long}"}} >= {guard})\n'
            f')'
        )
        rules.append({"record": RECORD, "expr": expr, "labels": {
            "slo": slo.name, "severity": c.severity, "condition": c.name, "long_window": long,
            "short_window": short, "factor": factor}})
    summary = "{{ $labels.slo }} on {{ $labels.target }} is burning its error budget"
    description = ("Burn rate {{ $value | printf \"%.2f\" }}x over the long window of a "
                   "{{ $labels.severity }} condition (objective " + _number(slo.objective) + ").")
    page = f'max without ({CONDITION_LABELS}) ({RECORD}{{{sel}, severity="page"}})'
    ticket = f'max without ({CONDITION_LABELS}) ({RECORD}{{{sel}, severity="ticket"}})'
    severities = {c.severity for c in slo.conditions(at)}
    if "page" in severities:
        rules.append({"alert": "DataSLOBurnRatePage", "expr": page,
                      "labels": {"slo": slo.name, "severity": "page"},
                      "annotations": {"summary": summary, "description": description}})
    if "ticket" in severities:
        expr = ticket + (f"\nunless {JOIN} {page}" if "page" in severities else "")
        rules.append({"alert": "DataSLOBurnRateTicket", "expr": expr,
                      "labels": {"slo": slo.name, "severity": "ticket"},
                      "annotations": {"summary": summary, "description": description}})
    return {"name": f"dataslo-slo-{slo.name}", "rules": rules}


def prometheus_rules(slos: Iterable[SLODefinition], at: datetime) -> dict[str, Any]:
    return {"groups": [rule_group(slo, at) for slo in sorted(slos, key=lambda s: s.name)]}


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def rules_yaml(slos: Iterable[SLODefinition], at: datetime) -> str:
    """The rules file: expressions as literal blocks, so they read as written."""
    return yaml.dump(prometheus_rules(slos, at), Dumper=_Dumper, sort_keys=False, width=120)
