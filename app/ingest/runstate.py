"""Run state follows eventTime, not arrival order.

A run's state is a function of the *set* of events seen for it, so any arrival order
gives the same answer: terminal events (COMPLETE, FAIL, ABORT) win over START/RUNNING
whatever their order, the latest terminal event by eventTime decides between terminals
(ties broken by severity so order cannot matter), and the start time is the earliest
START or RUNNING seen.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

TERMINAL = {"COMPLETE": "COMPLETED", "FAIL": "FAILED", "ABORT": "ABORTED"}
TERMINAL_STATES = frozenset(TERMINAL.values())
# Tie-break for two terminal events at the same instant: the worse outcome is kept.
_SEVERITY = {"COMPLETED": 0, "ABORTED": 1, "FAILED": 2}


class RunLike(Protocol):
    state: str
    started_at: datetime | None
    ended_at: datetime | None
    state_event_time: datetime | None


def apply_event(run: RunLike, event_type: str | None, at: datetime) -> None:
    """Fold one event into the run. `None` (no eventType) behaves like RUNNING."""
    kind = event_type or "RUNNING"
    if kind in ("START", "RUNNING"):
        if run.started_at is None or at < run.started_at:
            run.started_at = at
        if run.state not in TERMINAL_STATES:
            run.state = "RUNNING"
            if run.state_event_time is None or at > run.state_event_time:
                run.state_event_time = at
        return
    terminal = TERMINAL.get(kind)
    if terminal is None:  # OTHER: metadata only, never a state change
        return
    if run.state not in TERMINAL_STATES or run.ended_at is None or at > run.ended_at or (
        at == run.ended_at and _SEVERITY[terminal] > _SEVERITY[run.state]
    ):
        run.state = terminal
        run.ended_at = at
        run.state_event_time = at
