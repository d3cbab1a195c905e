"""OpenSLO v1 import, export, and round trips through YAML."""

from __future__ import annotations

from datetime import datetime, timedelta
from fractions import Fraction

import pytest
import yaml

from app.slo.definitions import SLODefinition
from app.slo.loader import SLOValidationError, load_slo_documents
from app.slo.openslo import format_alerts, parse_alerts, to_openslo
from app.slo.windows import CalendarWindow

OPENSLO = """\
apiVersion: openslo/v1
kind: Service
metadata: {name: orders}
spec: {description: the orders data product}
---
apiVersion: openslo/v1
kind: SLI
metadata: {name: orders-success}
spec:
  ratioMetric:
    counter: true
    good:
      metricSource:
        type: dataslo
        spec: {sli: success_rate, jobNamespace: airflow, jobName: orders_dag,
               scheduleCron: "0 * * * *"}
    total:
      metricSource:
        type: dataslo
        spec: {sli: success_rate, jobNamespace: airflow, jobName: orders_dag,
               scheduleCron: "0 * * * *"}
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: orders-fresh
  displayName: Orders fresh by 06:00
  labels: {product: orders, region: [eu, us]}
  annotations:
    dataslo.io/owner: team-orders
    dataslo.io/tier: "1"
    dataslo.io/alerts: "page 1h/5m 14.4x; ticket 3d/6h 10%"
    example.com/other: kept out
spec:
  service: orders
  indicator:
    metadata: {name: orders-fresh}
    spec:
      thresholdMetric:
        metricSource:
          type: dataslo
          spec:
            sli: freshness
            datasetNamespace: postgres://prod
            datasetName: public.orders
            deadlineCron: "0 6 * * 1-5"
            deadlineTimeZone: Europe/Berlin
  budgetingMethod: Timeslices
  timeWindow:
    - duration: 1M
      isRolling: false
      calendar: {startTime: 2024-01-01 00:00:00, timeZone: Europe/Berlin}
  objectives:
    - displayName: fresh minutes
      target: 0.995
      timeSliceTarget: 0.9
      timeSliceWindow: 5m
---
apiVersion: openslo/v1
kind: SLO
metadata: {name: orders-success}
spec:
  service: orders
  indicatorRef: orders-success
  budgetingMethod: Occurrences
  timeWindow: [{duration: 28d, isRolling: true}]
  objectives: [{target: 0.99}]
  alertPolicies: [some-policy]
"""


def test_openslo_documents_import():
    fresh, success = load_slo_documents(OPENSLO, "openslo.yaml")
    assert fresh.name == "orders-fresh" and fresh.display_name == "Orders fresh by 06:00"
    assert (fresh.owner, fresh.tier) == ("team-orders", "1")
    assert fresh.labels == {"product": "orders", "region": "eu,us"}
    assert fresh.target.dataset.name == "public.orders"
    assert fresh.sli.deadline.timezone == "Europe/Berlin"
    assert fresh.period() == CalendarWindow("M", 1, "Europe/Berlin", datetime(2024, 1, 1))
    assert fresh.budgeting == "timeslices"
    assert (fresh.time_slice.window, fresh.time_slice.target) == (timedelta(minutes=5),
                                                                  Fraction(9, 10))
    assert fresh.objective == Fraction(995, 1000)
    assert [(a.severity, a.factor, a.budget_share) for a in fresh.alerts] == [
        ("page", Fraction(72, 5), None), ("ticket", None, Fraction(1, 10))]
    assert success.sli.kind == "success_rate" and success.target.job.name == "orders_dag"
    assert success.window == timedelta(days=28) and success.min_events == 10


def line_of(text: str, needle: str) -> int:
    """1-based line where `needle` first occurs: where the error must be reported."""
    return text.count("\n", 0, text.index(needle)) + 1


def test_errors_point_at_the_openslo_keys():
    text = OPENSLO.replace("deadlineTimeZone: Europe/Berlin", "deadlineTimeZone: Europe/Berln")
    text = text.replace("budgetingMethod: Occurrences", "budgetingMethod: RatioTimeslices")
    text = text.replace("dataslo.io/tier", "dataslo.io/teir")
    with pytest.raises(SLOValidationError) as info:
        load_slo_documents(text, "openslo.yaml")
    found = [(p.line, p.path, p.reason) for p in info.value.problems]
    assert found[0][:2] == (31, "metadata.annotations.dataslo.io/teir")
    assert found[1] == (
        47, "spec.indicator.spec.thresholdMetric.metricSource.spec.deadlineTimeZone",
        "unknown IANA time zone 'Europe/Berln'",
    )
    assert found[2] == (65, "spec.budgetingMethod", "RatioTimeslices is not supported")
    assert [line_of(text, n) for n in ("teir", "Berln", "RatioTimeslices")] == [31, 47, 65]


@pytest.mark.parametrize(
    ("old", "new", "needle", "path", "fragment"),
    [
        ("type: dataslo\n          spec:", "type: prometheus\n          spec:", "prometheus",
         "spec.indicator.spec.thresholdMetric.metricSource.type", "must be 'dataslo'"),
        ("            datasetName:", "            datasetNme:", "datasetNme",
         "spec.indicator.spec.thresholdMetric.metricSource.spec.datasetNme", "unknown key"),
        ("    - displayName: fresh minutes\n", "    - displayName: fresh minutes\n      op: lte\n",
         "op: lte", "spec.objectives[0].op", "threshold metrics"),
        ("indicatorRef: orders-success", "indicatorRef: nope", "indicatorRef", "spec.indicatorRef",
         "no SLI named 'nope'"),
        ("  budgetingMethod: Timeslices", "  budgetingMethod: Timeslice", "Timeslice\n",
         "spec.budgetingMethod", "Input should be"),
        ("isRolling: false", "isRolling: true", "isRolling: true\n      calendar",
         "spec.timeWindow[0].isRolling", "a calendar window has isRolling: false"),
        (("isRolling: false\n      calendar: {startTime: 2024-01-01 00:00:00, "
          "timeZone: Europe/Berlin}"),
         "isRolling: false", "duration: 1M", "spec.timeWindow[0]", "needs calendar.startTime"),
    ],
)
def test_openslo_problems(old, new, needle, path, fragment):
    assert old in OPENSLO
    text = OPENSLO.replace(old, new, 1)
    with pytest.raises(SLOValidationError) as info:
        load_slo_documents(text, "openslo.yaml")
    found = [(p.line, p.path, p.reason) for p in info.value.problems]
    line = line_of(text, needle)
    assert any(f[0] == line and f[1] == path and fragment in f[2] for f in found), found


def test_unknown_openslo_kind_is_reported():
    with pytest.raises(SLOValidationError) as info:
        load_slo_documents("apiVersion: openslo/v1\nkind: Dashboard\nmetadata: {name: x}\n")
    assert [(p.line, p.path) for p in info.value.problems] == [(2, "kind")]


EXAMPLES = [
    {"name": "a", "service": "orders", "sli": {"kind": "freshness", "max_age": "90m"},
     "target": {"dataset": {"namespace": "pg", "name": "t"}}, "objective": "99.9%"},
    {"name": "b", "service": "etl", "owner": "team-x", "tier": "gold", "labels": {"env": "prod"},
     "sli": {"kind": "success_rate", "schedule": {"cron": "0 6 * * 1-5",
                                                  "timezone": "Europe/Berlin", "grace": "2h"}},
     "target": {"selector": {"namespace": "airflow*", "tags": ["tier1", "pii"]}},
     "objective": 0.98, "window": {"calendar": "week", "timezone": "Europe/Berlin"},
     "min_events": 3,
     "alerts": [{"severity": "ticket", "long": "1d", "short": "2h", "budget_share": "12.5%"}]},
    {"name": "c", "service": "dwh", "sli": {"kind": "volume", "median_fraction": 0.5},
     "target": {"dataset": {"namespace": "pg", "name": "t"}}, "objective": 0.95,
     "budgeting": "timeslices", "time_slice": {"window": "1h", "target": 0.5}},
    {"name": "d", "service": "dwh", "sli": {"kind": "quality", "assertions": ["not_null_*"]},
     "target": {"dataset": {"namespace": "pg", "name": "t"}}, "objective": 0.99},
    {"name": "e", "service": "etl", "sli": {"kind": "duration", "threshold": "45m"},
     "target": {"job": {"namespace": "dbt", "name": "run"}}, "objective": 0.9, "window": "7d"},
]


@pytest.mark.parametrize("doc", EXAMPLES, ids=[d["name"] for d in EXAMPLES])
def test_export_to_openslo_round_trips_through_yaml(doc):
    original = SLODefinition.model_validate(doc)
    exported = to_openslo(original)
    assert exported["apiVersion"] == "openslo/v1" and exported["kind"] == "SLO"
    text = yaml.safe_dump(exported, sort_keys=False)
    assert "&id" not in text  # no YAML anchors: each part stands alone
    (again,) = load_slo_documents(text, "exported.yaml")
    assert again == original


def test_export_shape_for_a_calendar_timeslice_slo():
    (fresh, _) = load_slo_documents(OPENSLO)
    spec = to_openslo(fresh)["spec"]
    assert spec["budgetingMethod"] == "Timeslices"
    assert spec["timeWindow"] == [{"duration": "1M", "isRolling": False, "calendar": {
        "startTime": "2024-01-01 00:00:00", "timeZone": "Europe/Berlin"}}]
    assert spec["objectives"] == [{"target": 0.995, "timeSliceTarget": 0.9,
                                   "timeSliceWindow": "5m"}]


def test_alert_annotation_format():
    rows = parse_alerts("page 1h/5m 14.4x; ticket 3d/6h 10%")
    assert rows[1] == {"severity": "ticket", "long": "3d", "short": "6h", "budget_share": "10%"}
    with pytest.raises(ValueError):
        parse_alerts("page 1h 14.4x")
    slo = SLODefinition.model_validate({**EXAMPLES[0], "alerts": rows})
    assert format_alerts(slo.alerts) == "page 1h/5m 14.4x; ticket 3d/6h 10%"
