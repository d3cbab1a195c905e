"""`dataslo slo apply|list|export-rules` as a user runs them, and the exported rules
checked (and unit-tested against synthetic series) by promtool when it is installed."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime

import pytest
import yaml
from servers import dataslo

from app.slo.loader import load_slo_documents
from app.slo.rules import rules_yaml

SLOS = """\
name: loader-success
sli: {kind: success_rate}
target: {job: {namespace: pipelines, name: loader}}
objective: 0.99
min_events: 20
---
name: orders-fresh
sli: {kind: freshness, max_age: 2h}
target: {dataset: {namespace: warehouse, name: orders}}
objective: 0.999
window: {calendar: month, timezone: Europe/Berlin}
alerts:
  - {severity: page, long: 1h, short: 5m, budget_share: 2%}
"""

promtool = pytest.mark.skipif(not shutil.which("promtool"), reason="promtool not installed (Debian: prometheus)")


def test_apply_list_and_export_rules(db_url, tmp_path):
    env = {"DATASLO_DATABASE_URL": db_url}
    path = tmp_path / "slos.yaml"
    path.write_text(SLOS)
    first = dataslo("slo", "apply", str(path), env=env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == ["created\tloader-success", "created\torders-fresh"]
    again = dataslo("slo", "apply", str(path), env=env)
    assert again.stdout.splitlines() == ["unchanged\tloader-success", "unchanged\torders-fresh"]
    listed = dataslo("slo", "list", env=env)
    assert [line.split("\t")[1:4] for line in listed.stdout.splitlines()] == [
        ["loader-success", "job:pipelines:loader", "pending"],
        ["orders-fresh", "dataset:warehouse:orders", "pending"]]

    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsli: {kind: duration}\ntarget: {job: {namespace: a, name: b}}\nobjective: 0.9\n")
    failed = dataslo("slo", "apply", str(bad), env=env)
    assert failed.returncode == 2
    assert f"{bad}:2: sli.threshold: required field is missing" in failed.stderr

    out = tmp_path / "rules.yml"
    exported = dataslo("slo", "export-rules", "--out", str(out), env=env)
    assert exported.returncode == 0, exported.stderr
    groups = yaml.safe_load(out.read_text())["groups"]
    assert [g["name"] for g in groups] == ["dataslo-slo-loader-success", "dataslo-slo-orders-fresh"]
    fresh = groups[1]["rules"]
    assert [r.get("alert") or r["record"] for r in fresh] == ["dataslo:slo_burn_condition", "DataSLOBurnRatePage"]
    if shutil.which("promtool"):
        check = subprocess.run(["promtool", "check", "rules", str(out)], check=False, capture_output=True, text=True, timeout=60)
        assert check.returncode == 0, check.stdout + check.stderr


def test_budget_share_factors_follow_the_calendar_period_length():
    slo = load_slo_documents(SLOS)[1]
    # 2 % of March in Berlin (743 h) within 1 h: 14.86x; of April (720 h): 14.4x.
    march = yaml.safe_load(rules_yaml([slo], datetime(2026, 3, 10, tzinfo=UTC)))
    april = yaml.safe_load(rules_yaml([slo], datetime(2026, 4, 10, tzinfo=UTC)))
    assert march["groups"][0]["rules"][0]["labels"]["factor"] == "14.86"
    assert april["groups"][0]["rules"][0]["labels"]["factor"] == "14.4"


SERIES = 'dataslo_{name}{{slo="loader-success", target="job:pipelines:loader", owner="", tier="", window="{w}"}}'


@promtool
def test_rules_fire_strictly_above_the_factor_with_enough_events_and_tickets_yield_to_pages(tmp_path):
    (tmp_path / "rules.yml").write_text(rules_yaml(load_slo_documents(SLOS)[:1], datetime.now(UTC)))
    # minutes 0-4: exactly 14.4x; 5-9: 15x; 10-14: 15x but only 19 events in 1 h (guard is 20).
    fast = "14.4x4 15x4 15x4"
    events_1h = "100x9 19x4"
    series = [(SERIES.format(name="burn_rate", w=w), fast) for w in ("1h", "5m")]
    series += [(SERIES.format(name="burn_rate", w=w), "4x14") for w in ("6h", "30m", "1d", "2h", "3d")]
    series += [(SERIES.format(name="sli_window_events", w="1h"), events_1h)]
    series += [(SERIES.format(name="sli_window_events", w=w), "1000x14") for w in ("6h", "1d", "3d")]
    labels = {"slo": "loader-success", "target": "job:pipelines:loader"}
    summary = "loader-success on job:pipelines:loader is burning its error budget"

    def alerts(severity: str, value: str) -> list[dict]:
        return [{"exp_labels": {**labels, "severity": severity}, "exp_annotations": {
            "summary": summary,
            "description": f"Burn rate {value}x over the long window of a {severity} condition "
                           "(objective 0.99)."}}]

    tests = {"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [{"series": s, "values": v} for s, v in series],
        "alert_rule_test": [
            {"eval_time": "2m", "alertname": "DataSLOBurnRatePage", "exp_alerts": []},
            # 4x burns in the 1d/2h ticket rows too: a ticket, until the page takes over.
            {"eval_time": "2m", "alertname": "DataSLOBurnRateTicket", "exp_alerts": alerts("ticket", "4.00")},
            {"eval_time": "7m", "alertname": "DataSLOBurnRatePage", "exp_alerts": alerts("page", "15.00")},
            {"eval_time": "7m", "alertname": "DataSLOBurnRateTicket", "exp_alerts": []},
            {"eval_time": "12m", "alertname": "DataSLOBurnRatePage", "exp_alerts": []},
        ],
    }]}
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(tests, sort_keys=False))
    result = subprocess.run(["promtool", "test", "rules", "tests.yml"], check=False, cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
