"""Persisting a batch of validated events in one transaction.

Set-based on purpose (see `fold` and `persist`): a batch of N events costs a fixed number
of statements, not N round trips, which is what makes group commit and the batch endpoint
worth having. The caller owns the transaction; this module only flushes.

Idempotency: the raw event row is inserted first, keyed by the hash of its canonical
JSON; events whose row already existed are duplicates and change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.ingest.fold import Folder
from app.ingest.identity import IdCache, IdResolver
from app.ingest.schema import ParsedEvent
from app.store.models import LineageEvent
from app.store.rowsets import insert_rows
from app.store.types import utcnow

__all__ = ["BatchResult", "IdCache", "apply_batch"]


@dataclass
class BatchResult:
    new: list[bool]  # per event: True if stored now, False if a duplicate
    learned: IdResolver | None  # ids to add to the shared cache once the transaction commits


def apply_batch(session: Session, events: list[ParsedEvent], cache: IdCache) -> BatchResult:
    """Store `events` (flush only: the caller commits)."""
    new_hashes = _insert_raw(session, events)
    fresh: list[ParsedEvent] = []
    seen: set[str] = set()
    for p in events:
        if p.hash in new_hashes and p.hash not in seen:
            seen.add(p.hash)
            fresh.append(p)
    learned = None
    if fresh:
        folder = Folder(session, cache)
        folder.fold(sorted(fresh, key=lambda p: p.event.eventTime))
        learned = folder.ids
    result, claimed = [], set()
    for p in events:
        result.append(p.hash in new_hashes and p.hash not in claimed)
        claimed.add(p.hash)
    return BatchResult(result, learned)


def _insert_raw(session: Session, events: list[ParsedEvent]) -> set[str]:
    rows, seen = [], set()
    now = utcnow()
    for p in events:
        if p.hash in seen:
            continue
        seen.add(p.hash)
        e = p.event
        job = getattr(e, "job", None)
        run = getattr(e, "run", None)
        rows.append(
            {
                "event_hash": p.hash,
                "event_kind": p.kind,
                "event_type": getattr(e, "eventType", None),
                "event_time": e.eventTime,
                "run_uuid": str(run.runId) if run else None,
                "job_namespace": job.namespace if job else None,
                "job_name": job.name if job else None,
                "producer": e.producer,
                "received_at": now,
                "payload": p.canonical.decode(),
            }
        )
    inserted = insert_rows(session, LineageEvent, rows, conflict=["event_hash"], returning=["event_hash"])
    return {row.event_hash for row in inserted}
