"""The evaluator's in-memory helpers against the core functions they stand in for, and
SLO files loaded at start-up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.slo.definitions import SLODefinition
from app.slo.engine import freshness_window_counts
from app.slo.fresh_spans import FreshSpans, earliest_change, horizon
from app.slo.schedule import CronSchedule
from app.slo.store import load_directory
from app.slo.verdicts import CachedSchedule
from app.store.slo_models import SloDefinitionRow

BASE = datetime(2024, 3, 28, tzinfo=UTC)  # Berlin's clocks go forward on the 31st


@settings(max_examples=60, deadline=None)
@given(expression=st.sampled_from(["0 6 * * 1-5", "*/20 * * * *", "30 2 * * *", "0 */3 * * *"]),
       queries=st.lists(st.tuples(st.integers(-5000, 8000), st.integers(0, 4000)), min_size=1, max_size=8))
def test_cached_schedule_answers_like_the_schedule(expression, queries):
    plain = CronSchedule(expression, "Europe/Berlin")
    cached = CachedSchedule(plain)
    for offset, span in queries:
        start = BASE + timedelta(minutes=offset)
        end = start + timedelta(minutes=span)
        assert cached.ticks(start, end) == plain.ticks(start, end)
        assert cached.previous(start) == plain.previous(start)
        assert cached.next_after(start) == plain.next_after(start)


def _slo(sli: dict, window: object = "7d", target: float = 1) -> SLODefinition:
    return SLODefinition.model_validate({
        "name": "f", "sli": {"kind": "freshness", **sli},
        "target": {"dataset": {"namespace": "n", "name": "d"}}, "objective": 0.99,
        "window": window, "time_slice": {"window": "5m", "target": target}})


FRESHNESS = [
    _slo({"max_age": "90m"}),
    _slo({"deadline": {"cron": "0 6 * * *", "timezone": "Europe/Berlin"}},
         {"calendar": "week", "timezone": "Europe/Berlin"}),
    _slo({"deadline": {"cron": "0 */4 * * *", "timezone": "UTC", "lookback": "2h"}}, "3d", 0.6),
]


@settings(max_examples=80, deadline=None)
@given(which=st.integers(0, len(FRESHNESS) - 1),
       steps=st.lists(st.tuples(st.integers(0, 600), st.lists(st.integers(-3000, 700), max_size=3),
                                st.booleans()), min_size=1, max_size=10))
def test_fresh_spans_equal_freshness_window_counts(which, steps):
    """Kept as the evaluator keeps them: rebuilt from the horizon when nothing earlier is
    known, otherwise recomputed from the last write before the earliest change."""
    slo = FRESHNESS[which]
    active_from = BASE - timedelta(days=2)
    writes: dict[int, datetime] = {}
    spans = FreshSpans(slo, active_from, horizon(slo, BASE))
    now, next_run = BASE, 0
    for advance, offsets, withdraw in steps:
        now += timedelta(minutes=advance)
        old = dict(writes)
        for offset in offsets:  # writes land late or early, in any order
            writes[next_run] = now + timedelta(minutes=offset)
            next_run += 1
        if withdraw and writes:  # a completed run later marked failed
            del writes[min(writes)]
        changed = earliest_change(old, writes)
        before = [w for w in writes.values() if changed is not None and w < changed]
        if not spans.covers(now) or (changed is not None and (not before or max(before) < spans.since)):
            since = horizon(slo, now)
            earlier = [w for w in writes.values() if w < since]
            spans.reset(since, max(earlier, default=None), [w for w in writes.values() if w >= since])
        elif changed is not None:
            start = max(before)
            spans.replace_from(start, [w for w in writes.values() if w >= start])
        assert spans.counts(now) == freshness_window_counts(slo, writes.values(), now, active_from)


def test_slo_files_are_loaded_replaced_and_removed_with_their_files(session, tmp_path):
    one = tmp_path / "one.yaml"
    one.write_text("name: a\nsli: {kind: duration, threshold: 1h}\n"
                   "target: {job: {namespace: n, name: j}}\nobjective: 0.9\n")
    two = tmp_path / "two.yml"
    two.write_text("name: b\nsli: {kind: quality}\ntarget: {dataset: {namespace: n, name: d}}\nobjective: 0.9\n")
    assert load_directory(session, tmp_path) == []
    session.commit()
    names = {r.name: (r.source, r.revision) for r in session.scalars(select(SloDefinitionRow))}
    assert names == {"a": ("file", 1), "b": ("file", 1)}

    two.write_text("name: b\nsli: {kind: quality}\ntarget: {dataset: {namespace: n, name: d}}\nobjective: 2\n")
    one.write_text(one.read_text().replace("1h", "2h"))
    errors = load_directory(session, tmp_path)
    session.commit()
    assert [str(p) for e in errors for p in e.problems] == [
        f"{two}:4: objective: the objective lies strictly between 0 and 1, e.g. 0.99 or 99%"]
    # The broken file keeps its SLO; the changed one is a new revision.
    names = {r.name: (r.source, r.revision) for r in session.scalars(select(SloDefinitionRow))}
    assert names == {"a": ("file", 2), "b": ("file", 1)}

    two.unlink()
    load_directory(session, tmp_path)
    session.commit()
    assert [r.name for r in session.scalars(select(SloDefinitionRow))] == ["a"]
