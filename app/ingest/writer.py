"""Group commit: many concurrent requests, one durable transaction.

Each ingest request validates its events, hands them to the writer and waits. The writer
drains whatever has queued up (up to `max_batch` events), stores it in one transaction
and answers every waiting request only after that COMMIT returned, so a 201 always means
"on disk". Under load a single fsync covers dozens of events; an idle request waits for
nobody. One bad submission never sinks its neighbours: if a combined transaction fails,
each submission is retried in a transaction of its own.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from app.ingest.apply import IdCache, apply_batch
from app.ingest.schema import ParsedEvent

log = logging.getLogger(__name__)


class StoreUnavailable(Exception):
    """The database could not take the events; the client should retry later."""


@dataclass
class _Submission:
    events: list[ParsedEvent]
    future: asyncio.Future[list[bool]]


class EventStore:
    """Synchronous, transactional storing of event batches (used by the writer and CLI)."""

    def __init__(self, session_factory: sessionmaker[Session], on_commit: Callable[[int, int, float], None] | None = None):
        self.session_factory = session_factory
        self.cache = IdCache()
        self._on_commit = on_commit

    def store(self, events: list[ParsedEvent], attempts: int = 5) -> list[bool]:
        """Store and commit; retried on conflicts with a concurrent writer (another replica)."""
        started = time.perf_counter()
        for attempt in range(attempts):
            try:
                with self.session_factory() as session:
                    result = apply_batch(session, events, self.cache)
                    session.commit()
            except DBAPIError as exc:
                # Lock timeouts, deadlocks and unique violations come from a concurrent
                # writer (another replica creating the same rows): retrying sees its rows.
                retryable = isinstance(exc, OperationalError) or "unique" in str(exc.orig).lower() \
                    or "deadlock" in str(exc.orig).lower()
                if attempt + 1 == attempts or not retryable:
                    raise
                log.warning("retrying a batch of %d events after a conflict with a concurrent writer: %s",
                            len(events), type(exc.orig).__name__)
                # Jitter, so two writers that just deadlocked do not collide again in step.
                time.sleep(random.uniform(0.005, 0.02) * 2**attempt)
                continue
            if result.learned is not None:
                self.cache.absorb(result.learned)
            if self._on_commit:
                self._on_commit(len(events), sum(result.new), time.perf_counter() - started)
            return result.new
        raise AssertionError("unreachable")


class GroupCommitWriter:
    def __init__(self, store: EventStore, max_batch: int = 500, writers: int = 1) -> None:
        self.store = store
        self.max_batch = max_batch
        self.writers = writers
        self._queue: asyncio.Queue[_Submission] = asyncio.Queue()
        self._tasks: list[asyncio.Task] = []
        self._busy = 0
        self._threads: ThreadPoolExecutor | None = None

    async def start(self) -> None:
        # Threads of their own rather than the loop's shared pool: each batch builds a few
        # MB of rows and statement documents, and glibc serves every thread that allocates
        # from its own arena, keeping what it freed; a writer hopping over the shared
        # pool's threads spread that over all of their arenas.
        self._threads = ThreadPoolExecutor(self.writers, thread_name_prefix="dataslo-writer")
        # Several writers overlap one batch's COMMIT wait with the next batch's work; rows
        # they both touch are locked in id order (see apply), so they stay correct.
        self._tasks = [
            asyncio.create_task(self._run(), name=f"dataslo-group-commit-{i}") for i in range(self.writers)
        ]

    async def stop(self) -> None:
        # Let queued and in-flight submissions finish: they were promised an answer.
        while not self._queue.empty() or self._busy:
            await asyncio.sleep(0.01)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
        if self._threads is not None:
            self._threads.shutdown(wait=True)

    async def submit(self, events: list[ParsedEvent]) -> list[bool]:
        future: asyncio.Future[list[bool]] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Submission(events, future))
        return await future

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            group, size = [first], len(first.events)
            while size < self.max_batch and not self._queue.empty():
                nxt = self._queue.get_nowait()
                group.append(nxt)
                size += len(nxt.events)
            self._busy += 1
            try:
                await asyncio.get_running_loop().run_in_executor(self._threads, self._commit_group, group)
            finally:
                self._busy -= 1

    def _commit_group(self, group: list[_Submission]) -> None:
        events = [e for s in group for e in s.events]
        try:
            results = self.store.store(events)
        except Exception:  # noqa: BLE001 - isolate the failing submission below
            if len(group) == 1:
                log.exception("storing events failed")
                self._fail(group[0], StoreUnavailable("the event store is unavailable; retry later"))
                return
            for submission in group:
                self._commit_group([submission])
            return
        offset = 0
        for submission in group:
            n = len(submission.events)
            self._resolve(submission, results[offset : offset + n])
            offset += n

    @staticmethod
    def _resolve(submission: _Submission, result: list[bool]) -> None:
        loop = submission.future.get_loop()
        loop.call_soon_threadsafe(_set_result, submission.future, result)

    @staticmethod
    def _fail(submission: _Submission, exc: Exception) -> None:
        loop = submission.future.get_loop()
        loop.call_soon_threadsafe(_set_exception, submission.future, exc)


def _set_result(future: asyncio.Future, value) -> None:
    if not future.done():
        future.set_result(value)


def _set_exception(future: asyncio.Future, exc: Exception) -> None:
    if not future.done():
        future.set_exception(exc)
