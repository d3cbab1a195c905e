from datetime import UTC, datetime, timedelta
from itertools import permutations

from hypothesis import given
from hypothesis import strategies as st

from app.ingest.runstate import apply_event


class FakeRun:
    def __init__(self):
        self.state = "NEW"
        self.started_at = None
        self.ended_at = None
        self.state_event_time = None

    def snapshot(self):
        return (self.state, self.started_at, self.ended_at)


T = datetime(2026, 1, 1, tzinfo=UTC)


def fold(events):
    run = FakeRun()
    for kind, minute in events:
        apply_event(run, kind, T + timedelta(minutes=minute))
    return run


def test_complete_before_start_gives_completed_run_with_start_time():
    run = fold([("COMPLETE", 10), ("START", 0)])
    assert run.snapshot() == ("COMPLETED", T, T + timedelta(minutes=10))


def test_late_running_or_other_never_reopens():
    run = fold([("START", 0), ("FAIL", 5), ("RUNNING", 7), ("OTHER", 9), ("START", 1)])
    assert run.state == "FAILED"
    assert run.ended_at == T + timedelta(minutes=5)


def test_missing_event_type_behaves_like_running():
    assert fold([(None, 0)]).state == "RUNNING"
    assert fold([("COMPLETE", 3), (None, 4)]).state == "COMPLETED"


def test_latest_terminal_by_event_time_wins():
    assert fold([("FAIL", 9), ("COMPLETE", 5)]).state == "FAILED"
    assert fold([("COMPLETE", 9), ("FAIL", 5)]).state == "COMPLETED"


def test_other_alone_keeps_new():
    assert fold([("OTHER", 1)]).state == "NEW"


events = st.lists(
    st.tuples(st.sampled_from(["START", "RUNNING", "COMPLETE", "FAIL", "ABORT", "OTHER", None]),
              st.integers(0, 20)),
    min_size=1, max_size=6,
)


@given(events)
def test_state_is_independent_of_arrival_order(evts):
    expected = fold(evts).snapshot()
    for order in list(permutations(evts))[:50]:
        assert fold(order).snapshot() == expected
