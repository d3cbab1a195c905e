"""Maintenance windows: planned time when alerts for matching labels are muted and, per
window, the SLO's error budget is not charged.

A window is recurring (a cron expression on the wall clock of a time zone, plus a
duration: "0 2 * * 0" for 2 h in Europe/Paris is Sunday 02:00-04:00 Paris time in
summer and winter) or one-off (start and end). Windows come from the routing file
(`source = config`, replaced on every load) or the API (`source = api`).

`excluded_intervals` is what the SLO side calls to leave budget-excluded time out of
its windows; it returns merged, clipped UTC intervals.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.alerts.matchers import all_match, parse_matchers
from app.alerts.routing import WindowSpec
from app.errors import Conflict, InvalidInput, NotFound
from app.slo.schedule import CronSchedule
from app.store.alert_models import MaintenanceWindow

Interval = tuple[datetime, datetime]


def _row_from_spec(spec: WindowSpec, source: str, created_by: str, now: datetime) -> dict:
    return {
        "name": spec.name,
        "matchers": [m.model_dump() for m in spec.matchers()],
        "timezone": spec.timezone,
        "cron": spec.cron,
        "duration_seconds": spec.duration,
        "starts_at": spec.start,
        "ends_at": spec.end,
        "exclude_budget": spec.exclude_budget,
        "mute": spec.mute,
        "comment": spec.comment,
        "created_by": created_by,
        "source": source,
        "created_at": now,
    }


def sync_config_windows(session: Session, specs: Iterable[WindowSpec], now: datetime) -> int:
    """Make the `config` windows exactly those of the routing file (API ones are kept)."""
    specs = list(specs)
    clash = session.scalars(
        select(MaintenanceWindow.name).where(
            MaintenanceWindow.source == "api",
            MaintenanceWindow.name.in_([s.name for s in specs]),
        )
    ).all()
    if clash:
        raise Conflict(f"maintenance windows defined both by API and config: {sorted(clash)}")
    session.execute(delete(MaintenanceWindow).where(MaintenanceWindow.source == "config"))
    session.add_all(MaintenanceWindow(**_row_from_spec(s, "config", "config", now)) for s in specs)
    return len(specs)


def create_window(session: Session, spec: WindowSpec, created_by: str, now: datetime
                  ) -> MaintenanceWindow:
    problems = [{"path": ".".join(map(str, loc)) or "(window)", "reason": why}
                for loc, why in spec.check()]
    if problems:
        raise InvalidInput("invalid maintenance window", details=problems)
    if session.scalar(select(MaintenanceWindow.id).where(MaintenanceWindow.name == spec.name)):
        raise Conflict(f"maintenance window {spec.name!r} exists")
    row = MaintenanceWindow(**_row_from_spec(spec, "api", created_by, now))
    session.add(row)
    session.flush()
    return row


def delete_window(session: Session, window_id: int) -> None:
    row = session.get(MaintenanceWindow, window_id)
    if row is None:
        raise NotFound(f"maintenance window {window_id} not found")
    if row.source == "config":
        raise Conflict("this window comes from the routing file; remove it there")
    session.delete(row)


def occurrences(window: MaintenanceWindow, start: datetime, end: datetime) -> list[Interval]:
    """The window's intervals overlapping [start, end), clipped to it."""
    if end <= start:
        return []
    spans: list[Interval] = []
    if window.cron is None:
        if window.starts_at is not None and window.ends_at is not None:
            spans.append((window.starts_at, window.ends_at))
    else:
        length = timedelta(seconds=window.duration_seconds or 0)
        lo = max(start - length, window.starts_at) if window.starts_at else start - length
        hi = min(end, window.ends_at) if window.ends_at else end
        for tick in CronSchedule(window.cron, window.timezone).ticks(lo, hi):
            stop = tick + length
            if window.ends_at is not None:
                stop = min(stop, window.ends_at)
            spans.append((tick, stop))
    return [(max(s, start), min(e, end)) for s, e in spans if s < end and e > start]


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    out: list[Interval] = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _matching(session: Session, labels: Mapping[str, str]) -> list[MaintenanceWindow]:
    rows = session.scalars(select(MaintenanceWindow).order_by(MaintenanceWindow.id))
    return [w for w in rows if all_match(parse_matchers(w.matchers), labels)]


def excluded_intervals(
    session: Session, slo_labels: Mapping[str, str], start: datetime, end: datetime
) -> list[Interval]:
    """UTC intervals within [start, end) whose budget the SLO must not charge.

    Only windows with `exclude_budget` whose matchers match the SLO's labels count
    (the labels an SLO is routed with: slo, owner, team, tier, namespace, ...).
    """
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    spans = [
        span
        for w in _matching(session, slo_labels)
        if w.exclude_budget
        for span in occurrences(w, start, end)
    ]
    return merge(spans)


def active_mute(
    session: Session, labels: Mapping[str, str], now: datetime
) -> MaintenanceWindow | None:
    """A muting window in progress for `labels`, if any."""
    for w in _matching(session, labels):
        if w.mute and occurrences(w, now, now + timedelta(microseconds=1)):
            return w
    return None


def window_dict(w: MaintenanceWindow, now: datetime) -> dict[str, Any]:
    current = occurrences(w, now, now + timedelta(microseconds=1))
    upcoming = occurrences(w, now, now + timedelta(days=35))
    nxt = next((s for s, _ in upcoming if s > now), None)
    return {
        "id": w.id, "name": w.name, "matchers": w.matchers, "timezone": w.timezone,
        "cron": w.cron, "duration_seconds": w.duration_seconds,
        "starts_at": w.starts_at.isoformat() if w.starts_at else None,
        "ends_at": w.ends_at.isoformat() if w.ends_at else None,
        "exclude_budget": w.exclude_budget, "mute": w.mute, "comment": w.comment,
        "created_by": w.created_by, "source": w.source,
        "active": bool(current), "next_start": nxt.isoformat() if nxt else None,
    }
