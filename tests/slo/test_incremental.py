"""Property: the incremental evaluator always equals a brute-force recount.

Random streams of runs (scheduled or not, retried, out of order, duplicated, unfinished,
late, writing a dataset with row counts and assertions, completed and later failed) are
stored through the real ingestion code; after every step the evaluator advances and each
SLO's window counts must equal `recount`, which recomputes them from the store alone.
Now and then the evaluator is replaced by a new one, as after a restart: it rebuilds
from what the previous ones stored (window sums, freshness stretches), not from the
runs. Each example works on its own job and dataset, in the same database.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

from factories import PRODUCER, T0, dataset, new_run_id, run_event
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.slo.recount import recount
from app.slo.service import Evaluator
from app.slo.store import delete_definition
from app.store.slo_models import SloDefinitionRow

from .support import NS, apply, store_events

SLOS = """
name: {p}-sched
sli: {{kind: success_rate, schedule: {{cron: "0 * * * *", grace: 20m}}}}
target: {{job: {{namespace: pipelines, name: {p}.job}}}}
objective: 0.9
---
name: {p}-plain
sli: {{kind: success_rate}}
target: {{job: {{namespace: pipelines, name: {p}.job}}}}
objective: 0.9
window: {{calendar: day, timezone: Europe/Berlin}}
---
name: {p}-sliced
sli: {{kind: success_rate}}
target: {{job: {{namespace: pipelines, name: {p}.job}}}}
objective: 0.9
budgeting: timeslices
time_slice: {{window: 10m, target: 0.5}}
---
name: {p}-duration
sli: {{kind: duration, threshold: 10m}}
target: {{job: {{namespace: pipelines, name: {p}.job}}}}
objective: 0.9
---
name: {p}-volume
sli: {{kind: volume, median_fraction: 0.5, versions: 3}}
target: {{dataset: {{namespace: warehouse, name: {p}.table}}}}
objective: 0.9
---
name: {p}-fresh
sli: {{kind: freshness, max_age: 90m}}
target: {{dataset: {{namespace: warehouse, name: {p}.table}}}}
objective: 0.9
---
name: {p}-deadline
sli: {{kind: freshness, deadline: {{cron: "30 */3 * * *", timezone: Europe/Berlin}}}}
target: {{dataset: {{namespace: warehouse, name: {p}.table}}}}
objective: 0.9
---
name: {p}-quality
sli: {{kind: quality}}
target: {{dataset: {{namespace: warehouse, name: {p}.table}}}}
objective: 0.9
"""

runs = st.fixed_dictionaries({
    "tick": st.integers(0, 11),
    "nominal": st.booleans(),
    "start": st.one_of(st.none(), st.integers(0, 50)),
    "duration": st.integers(1, 30),
    "ok": st.booleans(),
    "finish_later": st.booleans(),
    "reverse": st.booleans(),
    "rows": st.one_of(st.none(), st.integers(0, 200)),
    "check": st.one_of(st.none(), st.booleans()),
    "dup": st.booleans(),
    "flip": st.integers(0, 5),  # 0: a completed run is marked failed at the next step
})
# Clock moves of up to 2.5 h, and now and then past the 6 h after which sums are rebuilt.
advances = st.one_of(st.integers(0, 150), st.just(420))
steps = st.lists(st.tuples(advances, st.lists(runs, max_size=3), st.integers(0, 3)), min_size=1, max_size=7)
examples = itertools.count()


def _events(p: str, r: dict) -> tuple[list[dict], list[dict]]:
    """(events sent now, events sent at the next step) for one run."""
    run_id, job = new_run_id(), f"{p}.job"
    tick = 60 * r["tick"]
    facets = {"nominalTime": {"_producer": PRODUCER, "_schemaURL": "x",
                              "nominalStartTime": (T0 + timedelta(minutes=tick)).isoformat()}} \
        if r["nominal"] else {}
    start = tick + r["start"] if r["start"] is not None else None
    end = (start if start is not None else tick) + r["duration"]
    out = dataset(f"{p}.table", rows=r["rows"], output=r["rows"] is not None)
    if r["check"] is not None:
        out["facets"]["dataQualityAssertions"] = {
            "_producer": PRODUCER, "_schemaURL": "x",
            "assertions": [{"assertion": "row_count", "success": r["check"]}]}
    first = [run_event("START", run_id, job, namespace=NS, at=start, run_facets=facets)] \
        if start is not None else []
    last = [run_event("COMPLETE" if r["ok"] else "FAIL", run_id, job, namespace=NS, at=end,
                      run_facets=facets, outputs=[out])]
    if r["finish_later"]:
        return first, last
    now = last + first if r["reverse"] else first + last
    later = [run_event("FAIL", run_id, job, namespace=NS, at=end + 1, run_facets=facets)] \
        if r["ok"] and r["flip"] == 0 else []
    return now + (now if r["dup"] else []), later


# No shrinking: each example stores events, and shrinking one took minutes; a failure
# prints its full (seeded, reproducible) example instead.
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          phases=[Phase.explicit, Phase.reuse, Phase.generate])
@given(steps=steps)
def test_incremental_evaluation_equals_a_recount(factory, steps):
    p = f"x{next(examples)}"
    evaluator = Evaluator()
    now = T0
    apply(factory, SLOS.format(p=p))
    later: list[dict] = []
    try:
        for advance, batch, restart in steps:
            now += timedelta(minutes=advance)
            if restart == 0:
                evaluator = Evaluator()
            events, later = later, []
            for r in batch:
                sent, held = _events(p, r)
                events += sent
                later += held
            if events:
                store_events(factory, events)
            with factory() as s:
                evaluations = evaluator.run(s, now)
                s.commit()
            with factory() as s:
                for e in evaluations:
                    if not e.name.startswith(p):
                        continue
                    counts = {name: w.counts for name, w in e.report.windows.items()}
                    assert counts == recount(s, e.slo_id, now), (e.name, now)
    finally:
        with factory() as s:
            for row in s.scalars(select(SloDefinitionRow).where(SloDefinitionRow.name.like(f"{p}-%"))):
                delete_definition(s, row)
            s.commit()
