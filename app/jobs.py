"""Scheduled work (SLO evaluation, notification delivery, stuck-run detection).

Each job is a plain function `(session, now) -> None` that only flushes; the wrapper here
owns the transaction and the lease, so with several replicas on one database exactly one
of them runs a given job at a time, and a crashed replica's lease simply expires.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.orm import Session, sessionmaker

from app.store.leases import release, try_acquire
from app.store.types import utcnow

log = logging.getLogger(__name__)

JobFunc = Callable[[Session, datetime], None]


@dataclass(frozen=True)
class ScheduledJob:
    name: str
    func: JobFunc
    interval_seconds: float


def replica_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Scheduler:
    def __init__(self, session_factory: sessionmaker[Session], holder: str | None = None) -> None:
        self.session_factory = session_factory
        self.holder = holder or replica_id()
        self._scheduler = BackgroundScheduler(timezone="UTC")
        self._jobs: dict[str, ScheduledJob] = {}
        # Wake-ups asked for with run_soon, kept until a run that started after them:
        # a request made while its job runs (or for a later time) is never dropped.
        self._wakeups: dict[str, set[datetime]] = {}
        self._running: set[str] = set()
        self._wake_lock = threading.Lock()

    def add(self, job: ScheduledJob) -> None:
        self._jobs[job.name] = job
        # No misfire grace limit: on a busy machine a late run is still wanted, never skipped.
        self._scheduler.add_job(self._run_scheduled, "interval", seconds=job.interval_seconds,
                                args=[job.name], id=job.name, max_instances=1, coalesce=True,
                                misfire_grace_time=None)

    def _run_scheduled(self, name: str) -> None:
        started = datetime.now(UTC)
        with self._wake_lock:
            self._running.add(name)
        try:
            self.run_once(name)
        finally:
            with self._wake_lock:
                self._running.discard(name)
                pending = {w for w in self._wakeups.get(name, ()) if w > started}
                self._wakeups[name] = pending
            if pending:
                self._bring_forward(name, max(min(pending), datetime.now(UTC)))

    def run_once(self, name: str, now: datetime | None = None) -> bool:
        """Run job `name` if this replica holds (or takes) its lease; True if it ran."""
        job = self._jobs[name]
        now = now or utcnow()
        # The lease outlives a couple of missed ticks, so a slow run is not taken over mid-way.
        ttl = timedelta(seconds=max(30.0, job.interval_seconds * 3))
        with self.session_factory() as session:
            if not try_acquire(session, f"job:{name}", self.holder, ttl, now):
                session.rollback()
                return False
            session.commit()
            try:
                job.func(session, now)
                session.commit()
            except Exception:
                session.rollback()
                log.exception("scheduled job %s failed", name)
                raise
        return True

    def run_soon(self, name: str, delay_seconds: float = 0.0, *, at: datetime | None = None) -> None:
        """Bring job `name` forward to within `delay_seconds`, or to `at` (never later than planned).

        Thread-safe; many calls inside one delay cause a single run (a debounce). A call
        while the job runs, or for a time past its next run, is kept and served after.
        """
        if not self._scheduler.running or name not in self._jobs:
            return
        now = datetime.now(UTC)
        when = at or now + timedelta(seconds=delay_seconds)
        with self._wake_lock:
            pending = self._wakeups.setdefault(name, set())
            # A run planned within the delay already sees what this call is about; a run
            # asked for at a time (`at`) must not start before it.
            if when in pending or (at is None and any(now < w <= when for w in pending)):
                return
            pending.add(when)
            if name in self._running:
                return  # re-armed when the current run ends
        self._bring_forward(name, when)

    def _bring_forward(self, name: str, when: datetime) -> None:
        job = self._scheduler.get_job(name)
        if job is None:
            return
        if job.next_run_time is None or job.next_run_time > when:
            job.modify(next_run_time=when)

    def start(self) -> None:
        if self._jobs:
            self._scheduler.start()

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        # Hand the leases back so another replica takes over now, not when they expire.
        with self.session_factory() as session:
            for name in self._jobs:
                release(session, f"job:{name}", self.holder)
            session.commit()
