"""The SLO service end to end: events posted over HTTP, SLOs evaluated at chosen instants.

Every scenario also checks the incremental numbers against `recount`, the brute-force
recomputation from the store.
"""

from __future__ import annotations

from fractions import Fraction

from factories import PRODUCER, dataset, new_run_id, run_event
from sqlalchemy import func, select

from app.slo.evaluation import signals_for
from app.slo.recount import recount
from app.slo.service import Evaluator
from app.slo.store import delete_definition, sync_targets
from app.slo.windows import PERIOD
from app.store.slo_models import Slo, SloDefinitionRow, SloEvaluation

from .support import NS, apply, at, evaluate, finished, write


def check_recount(factory, evaluations, now) -> None:
    with factory() as s:
        for e in evaluations.values():
            counts = {name: w.counts for name, w in e.report.windows.items()}
            assert counts == recount(s, e.slo_id, now), e.name


def test_fast_burn_pages_with_exact_burn_rates(factory, post):
    # 10 runs a minute for 3 h; during the last hour one run in 50 fails (2 %).
    events = []
    for k in range(1800):
        minute = k // 10
        events += finished("orders.load", minute + (k % 10) / 10, ok=not (minute >= 120 and k % 50 == 0))
    post(*events)
    apply(factory, """
name: orders-load-success
sli: {kind: success_rate}
target: {job: {namespace: pipelines, name: orders.load}}
objective: 99.9%
""")
    # Evaluated within the last minute of runs: its windows end with that minute, so
    # the 1h window holds exactly the 60 minutes of 2 % failures.
    now = at(179.95)
    result = evaluate(factory, Evaluator(), now)
    report = result["orders-load-success"].report
    rates = {name: w.burn_rate for name, w in report.windows.items()}
    assert rates["5m"] == rates["30m"] == rates["1h"] == 20
    assert rates["2h"] == 10
    assert rates["6h"] == rates["1d"] == rates[PERIOD] == Fraction(20, 3)
    holding = {c.condition.name: (c.holds, c.suppressed) for c in report.conditions}
    assert holding == {"page:1h/5m": (True, False), "page:6h/30m": (True, False),
                       "ticket:1d/2h": (True, True), "ticket:3d/6h": (True, True)}
    assert report.severity == "page"
    assert report.budget.remaining == 1 - Fraction(12) / Fraction(18, 10)
    assert report.state == "breaching"
    check_recount(factory, result, now)


def test_burning_exactly_at_the_factor_does_not_page_and_one_more_failure_does(factory, post):
    # Objective 99 %: 14.4x is an error ratio of 0.144, i.e. 18 failures in every 125 runs.
    events = []
    for k in range(1500):
        events += finished("exact.job", k / 25, ok=k % 125 >= 18)
    post(*events)
    apply(factory, """
name: exact
sli: {kind: success_rate}
target: {job: {namespace: pipelines, name: exact.job}}
objective: 0.99
""")
    evaluator = Evaluator()
    # Minute 59 is the current one: the 1h window is minutes 0-59, all 1500 runs.
    result = evaluate(factory, evaluator, at(59.97))
    report = result["exact"].report
    assert report.windows["1h"].burn_rate == report.windows["5m"].burn_rate == Fraction(72, 5)
    page_1h = next(c for c in report.conditions if c.condition.name == "page:1h/5m")
    assert not page_1h.holds and page_1h.reason == "not both windows above the factor"
    # One more failure in the same, still open minute pages at once; evaluating again
    # within that minute counts it once.
    post(*finished("exact.job", 59.5, ok=False))
    for now in (at(59.98), at(59.99)):
        result = evaluate(factory, evaluator, now)
        page_1h = next(c for c in result["exact"].report.conditions if c.condition.name == "page:1h/5m")
        assert page_1h.holds
        assert page_1h.long_burn == Fraction(217, 1501) / Fraction(1, 100)
        check_recount(factory, result, now)


HOURLY = """
name: hourly
sli:
  kind: success_rate
  schedule: {cron: "0 * * * *", timezone: UTC, grace: 10m}
target: {job: {namespace: pipelines, name: hourly.job}}
objective: 0.9
min_events: 1
"""


def test_a_scheduled_run_that_never_starts_fails_when_its_grace_ends(factory, post, client):
    for hour in range(4):  # 06:00 .. 09:00 ran; 10:00 never does
        tick = at(60 * hour)
        post(*finished("hourly.job", 60 * hour + 5, start=60 * hour + 1, tick=tick))
    apply(factory, HOURLY)
    evaluator = Evaluator()
    before = evaluate(factory, evaluator, at(249))["hourly"].report.windows[PERIOD].counts
    assert (before.good, before.total) == (4, 4)
    result = evaluate(factory, evaluator, at(251))
    after = result["hourly"].report.windows[PERIOD].counts
    assert (after.good, after.total) == (4, 5)
    check_recount(factory, result, at(251))
    status = client.get(f"/api/v1/slos/{result['hourly'].slo_id}/status").json()
    assert status["spent"][0]["kind"] == "missing_run"
    assert status["spent"][0]["belongsTo"] == "2026-11-01T10:00:00Z"
    assert status["spent"][0]["at"] == "2026-11-01T10:10:00Z"
    # The run for 10:00 finally comes, late: its verdict replaces the missing one.
    late = finished("hourly.job", 265, start=260, tick=at(240))
    post(*late)
    post(*late)  # a retried delivery changes nothing
    result = evaluate(factory, evaluator, at(270))
    counts = result["hourly"].report.windows[PERIOD].counts
    assert (counts.good, counts.total) == (5, 5)
    check_recount(factory, result, at(270))


def test_out_of_order_duplicated_and_retried_runs_count_once(factory, post):
    apply(factory, HOURLY.replace("hourly.job", "etl").replace("grace: 10m", "grace: 30m"))
    evaluator = Evaluator()
    # 06:00: a failed attempt, then a retry that succeeds: one good outcome.
    first, retry = new_run_id(), new_run_id()
    post(*finished("etl", 3, ok=False, start=1, tick=at(0), run_id=first))
    post(*finished("etl", 15, start=10, tick=at(0), run_id=retry))
    # 07:00: COMPLETE arrives before START.
    second = new_run_id()
    complete, start = finished("etl", 65, start=61, tick=at(60), run_id=second)[::-1]
    post(complete)
    post(start)
    # 08:00: COMPLETE without the nominal time first; the START carrying it comes later.
    third = new_run_id()
    post(run_event("COMPLETE", third, "etl", namespace=NS, at=125))
    result = evaluate(factory, evaluator, at(126))
    check_recount(factory, result, at(126))
    post(run_event("START", third, "etl", namespace=NS, at=121,
                   run_facets={"nominalTime": {"_producer": PRODUCER, "_schemaURL": "x",
                                               "nominalStartTime": at(120).isoformat()}}))
    # Everything again, as a client that retried every request would.
    post(*finished("etl", 3, ok=False, start=1, tick=at(0), run_id=first))
    post(*finished("etl", 15, start=10, tick=at(0), run_id=retry))
    result = evaluate(factory, evaluator, at(130))
    counts = result["hourly"].report.windows[PERIOD].counts
    assert (counts.good, counts.total) == (3, 3)
    check_recount(factory, result, at(130))


def test_freshness_deadline_turns_minutes_bad_with_no_event_and_a_late_write_settles_it(factory, post):
    post(*write("loader", "daily", -30, rows=100))  # day 0, before the 06:00 deadline
    post(*write("loader", "daily", 1420, rows=100))  # day 1, 05:40
    apply(factory, """
name: daily-fresh
sli:
  kind: freshness
  deadline: {cron: "0 6 * * *", timezone: UTC}
target: {dataset: {namespace: warehouse, name: daily}}
objective: 0.99
""")
    evaluator = Evaluator()
    ok = evaluate(factory, evaluator, at(2870))["daily-fresh"].report.windows[PERIOD].counts
    assert ok.total - ok.good == 0
    late = evaluate(factory, evaluator, at(2940))
    counts = late["daily-fresh"].report.windows[PERIOD].counts
    assert (counts.total, counts.total - counts.good) == (2970, 60)  # first seen at -30
    check_recount(factory, late, at(2940))
    post(*write("loader", "daily", 2970, rows=100))
    settled = evaluate(factory, evaluator, at(3000))
    counts = settled["daily-fresh"].report.windows[PERIOD].counts
    assert counts.total - counts.good == 90
    assert settled["daily-fresh"].report.windows["5m"].burn_rate == 0
    check_recount(factory, settled, at(3000))


def test_volume_against_the_median_and_quality_assertions(factory, post):
    for i, rows in enumerate([100, 110, 90, 20, 105]):
        post(*write("loader", "sales", 60 * i, rows=rows))
    checks = {"dataQualityAssertions": {"_producer": PRODUCER, "_schemaURL": "x", "assertions": [
        {"assertion": "not_null", "column": "id", "success": True},
        {"assertion": "unique", "column": "id", "success": False}]}}
    post(run_event("COMPLETE", new_run_id(), "checker", namespace=NS, at=300,
                   inputs=[dataset("sales", facets=checks)]))
    apply(factory, """
name: sales-volume
sli: {kind: volume, median_fraction: 0.5, versions: 3}
target: {dataset: {namespace: warehouse, name: sales}}
objective: 0.9
min_events: 1
---
name: sales-quality
sli: {kind: quality, assertions: ["not_*", "unique"]}
target: {dataset: {namespace: warehouse, name: sales}}
objective: 0.9
min_events: 1
""")
    evaluator = Evaluator()
    result = evaluate(factory, evaluator, at(400))
    volume = result["sales-volume"].report.windows[PERIOD].counts
    assert (volume.good, volume.total) == (3, 4)  # the first write has no history; 20 < 50
    quality = result["sales-quality"].report.windows[PERIOD].counts
    assert (quality.good, quality.total) == (1, 2)
    # A write that lands late, between the 110 and the 90: it shifts the medians after it.
    post(*write("loader", "sales", 90, rows=10))
    result = evaluate(factory, evaluator, at(401))
    volume = result["sales-volume"].report.windows[PERIOD].counts
    assert (volume.good, volume.total) == (3, 5)
    check_recount(factory, result, at(401))


def test_selector_expands_to_matching_datasets_and_follows_the_estate(factory, post):
    tags = {"tags": {"_producer": PRODUCER, "_schemaURL": "x", "tags": [{"key": "critical"}]}}
    post(*finished("a", 1, outputs=[dataset("t1", facets=tags)]))
    post(*finished("a", 2, outputs=[dataset("t2")]))
    apply(factory, """
name: critical-fresh
sli: {kind: freshness, max_age: 1h}
target: {selector: {namespace: "ware*", tags: [critical]}}
objective: 0.99
owner: data-platform
tier: "1"
""")
    with factory() as s:
        assert s.scalars(select(Slo.entity_name)).all() == ["t1"]
    post(*finished("a", 3, outputs=[dataset("t3", facets=tags)]))
    with factory() as s:
        sync_targets(s)
        s.commit()
    with factory() as s:
        evaluations = Evaluator().run(s, at(30))
    assert sorted(e.target_name for e in evaluations) == ["t1", "t3"]
    signals = signals_for(evaluations)
    assert {s.labels["owner"] for s in signals} == {"data-platform"}
    assert {s.target_kind for s in signals} == {"dataset"}
    assert all(s.state == "ok" and s.budget_remaining == 1 for s in signals)


def test_unknown_target_has_no_data_until_it_appears_and_redefinition_recomputes(factory, post):
    apply(factory, """
name: later
sli: {kind: success_rate}
target: {job: {namespace: pipelines, name: later.job}}
objective: 0.9
min_events: 1
""")
    evaluator = Evaluator()
    first = evaluate(factory, evaluator, at(10))["later"]
    assert first.report.state == "no_data" and first.target_id is None
    assert signals_for([first]) == []
    post(*finished("later.job", 12, ok=False), *finished("later.job", 13))
    second = evaluate(factory, evaluator, at(20))["later"]
    assert second.report.windows[PERIOD].counts.total == 2 and second.target_id is not None
    apply(factory, """
name: later
sli: {kind: success_rate}
target: {job: {namespace: pipelines, name: later.job}}
objective: 0.4
min_events: 1
""")
    third = evaluate(factory, evaluator, at(21))["later"]
    assert third.report.objective == Fraction(2, 5) and third.report.state == "ok"
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(SloEvaluation)) == 3
        delete_definition(s, s.scalars(select(SloDefinitionRow)).one())
        s.commit()
    assert evaluate(factory, evaluator, at(22)) == {}


def test_two_replicas_taking_turns_agree_with_a_recount(factory, post):
    apply(factory, HOURLY)
    a, b = Evaluator(), Evaluator()
    for hour in range(6):
        post(*finished("hourly.job", 60 * hour + 3, ok=hour % 3 != 1, start=60 * hour + 1, tick=at(60 * hour)))
        for evaluator in (a, b):
            result = evaluate(factory, evaluator, at(60 * hour + 30))
    assert b.last.mode == "full" and a.last.mode == "full"  # each saw the other's pass
    check_recount(factory, result, at(330))
    same = evaluate(factory, b, at(331))
    assert b.last.mode == "incremental"
    assert same["hourly"].report.windows[PERIOD].counts == result["hourly"].report.windows[PERIOD].counts
