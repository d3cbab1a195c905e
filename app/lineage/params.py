"""Input checks every lineage answer shares, so they agree.

Answers carry datetimes as such; the API layer writes them as RFC 3339 UTC (`...Z`).
"""

from __future__ import annotations

from app.errors import InvalidInput
from app.lineage.traverse import DIRECTIONS

DEFAULT_LIMIT = 10_000
MAX_LIMIT = 100_000
MAX_DEPTH = 1_000


def check_direction(direction: str) -> str:
    value = (direction or "").lower()
    if value not in DIRECTIONS:
        raise InvalidInput(f"direction must be one of {', '.join(DIRECTIONS)}; got {direction!r}")
    return value


def check_limit(limit: int | None, default: int = DEFAULT_LIMIT) -> int:
    if limit is None:
        return default
    if limit < 1 or limit > MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}")
    return limit


def check_depth(depth: int | None) -> int | None:
    if depth is not None and not 0 <= depth <= MAX_DEPTH:
        raise InvalidInput(f"depth must be between 0 and {MAX_DEPTH}")
    return depth


def max_hops_for(depth: int | None, starts_at_job: bool) -> int | None:
    """Edges to walk for `depth` jobs: dataset→job→dataset is one job and two edges."""
    if check_depth(depth) is None:
        return None
    return 2 * depth + (1 if starts_at_job else 0)
