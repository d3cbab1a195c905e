"""Raw lineage events as they were received, filtered on their eventTime.

Same window as Marquez: `after <= eventTime < before`, newest first unless asked
otherwise. The event_time index serves both the filter and the order.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.catalog.page import Page, listing
from app.errors import InvalidInput
from app.store.models import LineageEvent

SORT_DIRECTIONS = ("desc", "asc")


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def list_events(
    session: Session,
    page: Page,
    *,
    before: datetime | None = None,
    after: datetime | None = None,
    sort_direction: str = "desc",
) -> dict[str, Any]:
    direction = (sort_direction or "desc").lower()
    if direction not in SORT_DIRECTIONS:
        raise InvalidInput(f"sortDirection must be 'desc' or 'asc'; got {sort_direction!r}")
    before, after = _utc(before), _utc(after)
    if before is not None and after is not None and after > before:
        raise InvalidInput("'after' must not be later than 'before'")
    conditions = []
    if after is not None:
        conditions.append(LineageEvent.event_time >= after)
    if before is not None:
        conditions.append(LineageEvent.event_time < before)
    total = session.scalar(select(func.count()).select_from(LineageEvent).where(*conditions)) or 0
    order = (
        (LineageEvent.event_time.desc(), LineageEvent.id.desc())
        if direction == "desc"
        else (LineageEvent.event_time.asc(), LineageEvent.id.asc())
    )
    payloads = session.scalars(
        select(LineageEvent.payload).where(*conditions).order_by(*order).limit(page.limit).offset(page.offset)
    ).all()
    return listing("events", [orjson.loads(p) for p in payloads], total)
