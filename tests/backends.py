"""State shared by the fixtures and the tests that need it (imported by module name, so
that a sub-folder's own conftest.py can never shadow it)."""

from __future__ import annotations

from pathlib import Path

# ../shared beside the checkout: public reference material, absent in a user's clone.
SHARED_DIR = Path(__file__).resolve().parents[1].parent / "shared"


class PostgresUsage:
    """How many tests ran on PostgreSQL; CI fails the run when it is zero."""

    count = 0
