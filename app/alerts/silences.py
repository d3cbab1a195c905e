"""Silences: a human says "I know, stop telling me" for alerts matching some labels.

A silenced notification is still written to the outbox and marked `silenced` with the
silence's id, so the incident's history shows what would have been sent and why it was
not. Silences are never deleted: expiring one sets its end to now, which keeps the
audit trail (who muted what, when, why).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.alerts.matchers import Matcher, all_match, parse_matchers
from app.errors import Conflict, InvalidInput, NotFound
from app.store.alert_models import Silence

STATES = ("pending", "active", "expired")


def silence_state(silence: Silence, now: datetime) -> str:
    if silence.ends_at <= now:
        return "expired"
    return "pending" if silence.starts_at > now else "active"


def create_silence(
    session: Session,
    *,
    matchers: list[Matcher],
    starts_at: datetime,
    ends_at: datetime,
    created_by: str,
    comment: str,
    now: datetime,
) -> Silence:
    problems = []
    if not matchers:
        problems.append({"path": "matchers", "reason": "at least one matcher is required"})
    if ends_at <= starts_at:
        problems.append({"path": "ends_at", "reason": "must be after starts_at"})
    if ends_at <= now:
        problems.append({"path": "ends_at", "reason": "must be in the future"})
    if not created_by.strip():
        problems.append({"path": "created_by", "reason": "an author is required"})
    if not comment.strip():
        problems.append({"path": "comment", "reason": "say why (it is what on-call reads)"})
    if problems:
        raise InvalidInput("invalid silence", details=problems)
    silence = Silence(
        matchers=[m.model_dump() for m in matchers],
        starts_at=starts_at,
        ends_at=ends_at,
        created_by=created_by.strip(),
        comment=comment.strip(),
        created_at=now,
        updated_at=now,
    )
    session.add(silence)
    session.flush()
    return silence


def get_silence(session: Session, silence_id: int) -> Silence:
    silence = session.get(Silence, silence_id)
    if silence is None:
        raise NotFound(f"silence {silence_id} not found")
    return silence


def list_silences(session: Session, now: datetime, state: str | None = None) -> list[Silence]:
    query = select(Silence).order_by(Silence.id.desc())
    if state == "expired":
        query = query.where(Silence.ends_at <= now)
    elif state == "active":
        query = query.where(Silence.starts_at <= now, Silence.ends_at > now)
    elif state == "pending":
        query = query.where(Silence.starts_at > now)
    elif state is not None:
        raise InvalidInput(f"state must be one of {', '.join(STATES)}")
    return list(session.scalars(query))


def update_silence(
    session: Session, silence_id: int, now: datetime, *, ends_at: datetime | None = None,
    comment: str | None = None,
) -> Silence:
    silence = get_silence(session, silence_id)
    if silence_state(silence, now) == "expired":
        raise Conflict(f"silence {silence_id} has expired; create a new one")
    if ends_at is not None:
        if ends_at <= max(now, silence.starts_at):
            raise InvalidInput("ends_at must be in the future and after starts_at")
        silence.ends_at = ends_at
    if comment is not None and comment.strip():
        silence.comment = comment.strip()
    silence.updated_at = now
    return silence


def expire_silence(session: Session, silence_id: int, now: datetime) -> Silence:
    silence = get_silence(session, silence_id)
    if silence_state(silence, now) == "expired":
        raise Conflict(f"silence {silence_id} has already expired")
    silence.ends_at = now
    silence.starts_at = min(silence.starts_at, now)
    silence.updated_at = now
    return silence


def matching_silence(
    session: Session, labels: Mapping[str, str], now: datetime
) -> Silence | None:
    """The oldest active silence whose matchers all match `labels`."""
    active = session.scalars(
        select(Silence)
        .where(Silence.starts_at <= now, Silence.ends_at > now)
        .order_by(Silence.id)
    )
    for silence in active:
        if all_match(parse_matchers(silence.matchers), labels):
            return silence
    return None


def silence_dict(silence: Silence, now: datetime) -> dict[str, Any]:
    return {
        "id": silence.id,
        "matchers": silence.matchers,
        "starts_at": silence.starts_at.isoformat(),
        "ends_at": silence.ends_at.isoformat(),
        "created_by": silence.created_by,
        "comment": silence.comment,
        "created_at": silence.created_at.isoformat(),
        "updated_at": silence.updated_at.isoformat(),
        "state": silence_state(silence, now),
    }
