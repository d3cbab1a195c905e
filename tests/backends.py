"""State shared by the fixtures and the tests that need it (imported by module name, so
that a sub-folder's own conftest.py can never shadow it)."""

from __future__ import annotations

from pathlib import Path

# ../shared beside the checkout: public reference material, absent in a user's clone.
SHARED_DIR = Path(__file__).resolve().parents[1].parent / "shared"


class PostgresUsage:
    """How many tests ran on PostgreSQL; CI fails the run when it is zero."""

    count = 0


def create_tokens(db_url: str, **scopes: list[str]) -> dict[str, str]:
    """API tokens named and scoped as given (`reader=["read"]`), committed; returns the
    secrets by name, as a client would hold them."""
    from app.auth import create_token
    from app.store.db import make_engine, make_session_factory

    engine = make_engine(db_url)
    try:
        with make_session_factory(engine)() as session:
            secrets = {name: create_token(session, name, granted) for name, granted in scopes.items()}
            session.commit()
    finally:
        engine.dispose()
    return secrets
