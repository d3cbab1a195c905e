"""/metrics after SLO passes: series, labels, removal, promtool; the scheduler's wake-up."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app.main import _slo_job, create_app
from app.settings import Settings

from .support import apply, at, finished

SLOS = """
name: loader-success
owner: team-a
tier: "1"
sli: {kind: success_rate}
target: {job: {namespace: pipelines, name: loader}}
objective: 0.9
min_events: 1
---
name: silent
sli: {kind: success_rate}
target: {job: {namespace: pipelines, name: never.runs}}
objective: 0.99
"""


def samples(client) -> dict[tuple, float]:
    out = {}
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def run_pass(client, factory, now) -> None:
    with factory() as session:
        _slo_job(client.app)(session, now)
        session.commit()


def test_slo_series_are_labelled_exact_and_removed_with_their_slo(client, factory, post):
    post(*finished("loader", 10), *finished("loader", 20, ok=False), *finished("loader", 30))
    apply(factory, SLOS)
    run_pass(client, factory, at(60))
    m = samples(client)
    base = (("owner", "team-a"), ("slo", "loader-success"), ("target", "job:pipelines:loader"), ("tier", "1"))
    assert m[("dataslo_slo_objective_ratio", base)] == 0.9
    assert m[("dataslo_sli_ratio", tuple(sorted((*base, ("window", "1h")))))] == pytest.approx(2 / 3)
    assert m[("dataslo_burn_rate", tuple(sorted((*base, ("window", "1h")))))] == pytest.approx(10 / 3)
    assert m[("dataslo_sli_window_events", tuple(sorted((*base, ("window", "period")))))] == 3
    assert m[("dataslo_error_budget_remaining_ratio", base)] == pytest.approx(1 - 1 / 0.3)
    assert m[("dataslo_slo_condition_active", tuple(sorted((*base, ("severity", "page")))))] == 0
    # The 5 m window is empty: no SLI and no burn rate, rather than a misleading 0.
    assert ("dataslo_sli_ratio", tuple(sorted((*base, ("window", "5m"))))) not in m
    assert m[("dataslo_sli_window_events", tuple(sorted((*base, ("window", "5m")))))] == 0
    silent = (("owner", ""), ("slo", "silent"), ("target", "job:pipelines:never.runs"), ("tier", ""))
    assert m[("dataslo_slo_no_data", silent)] == 1
    assert m[("dataslo_slo_evaluation_passes_total", (("mode", "full"),))] == 1

    assert client.delete(f"/api/v1/slos/{client.get('/api/v1/slos?name=silent').json()['slos'][0]['id']}") \
        .status_code == 204
    run_pass(client, factory, at(61))
    m = samples(client)
    assert not [k for k in m if ("slo", "silent") in k[1]]
    assert m[("dataslo_slo_evaluation_passes_total", (("mode", "incremental"),))] == 1


@pytest.mark.skipif(not shutil.which("promtool"), reason="promtool not installed (Debian: prometheus)")
def test_promtool_accepts_the_metrics_page(client, factory, post):
    post(*finished("loader", 10))
    apply(factory, SLOS)
    run_pass(client, factory, at(60))
    check = subprocess.run(["promtool", "check", "metrics"], check=False, input=client.get("/metrics").text,
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr


def test_stored_events_wake_the_scheduled_evaluation(db_url, factory):
    settings = Settings(database_url=db_url, auth="auto", slo_scheduler=True,
                        slo_eval_interval_seconds=3600, slo_eval_debounce_seconds=0.2)
    apply(factory, SLOS)
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 20
        passes = 0.0
        while time.monotonic() < deadline and passes < 1:  # the start-up pass
            passes = sum(v for (name, _), v in samples(client).items()
                         if name == "dataslo_slo_evaluation_passes_total")
            time.sleep(0.1)
        assert passes == 1
        # The next scheduled pass is an hour away: only the commit can bring it forward.
        client.post("/api/v1/lineage/batch", json=finished("loader", 10))
        while time.monotonic() < deadline and passes < 2:
            passes = sum(v for (name, _), v in samples(client).items()
                         if name == "dataslo_slo_evaluation_passes_total")
            time.sleep(0.1)
        assert passes == 2
        listed = client.get("/api/v1/slos?name=loader-success").json()["slos"][0]
        assert listed["state"] == "ok"
