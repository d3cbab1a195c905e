"""Pagination and output formats every catalog answer shares."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.errors import InvalidInput

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


@dataclass(frozen=True)
class Page:
    limit: int = DEFAULT_LIMIT
    offset: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.limit <= MAX_LIMIT:
            raise InvalidInput(f"limit must be between 0 and {MAX_LIMIT}; got {self.limit}")
        if self.offset < 0:
            raise InvalidInput(f"offset must be 0 or more; got {self.offset}")


def listing(key: str, items: list[dict[str, Any]], total: int) -> dict[str, Any]:
    """Marquez's list envelope: `{"<things>": [...], "totalCount": n}`."""
    return {key: items, "totalCount": total}


def iso(value: datetime | None) -> str | None:
    """UTC ISO-8601 with a `Z`, the way Marquez writes instants."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def ref(namespace: str, name: str) -> dict[str, str]:
    return {"namespace": namespace, "name": name}
