"""Shared fixtures. The schema always comes from the Alembic migrations.

Every database test runs on SQLite, and on PostgreSQL too when
DATASLO_TEST_POSTGRES_URL is set (CI sets it and fails if those tests were skipped).
Each test session gets its own PostgreSQL database, so parallel sessions don't collide.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app.store.db import make_engine, make_session_factory
from app.store.migrate import upgrade
from app.store.models import Base

POSTGRES_URL = os.environ.get("DATASLO_TEST_POSTGRES_URL")
from backends import SHARED_DIR, PostgresUsage  # noqa: E402,F401 - SHARED_DIR re-exported


def _admin_url(url: str) -> str:
    return str(make_url(url).set(drivername="postgresql+psycopg"))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    if not POSTGRES_URL:
        pytest.skip("DATASLO_TEST_POSTGRES_URL is not set")
    name = f"dataslo_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(_admin_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = str(make_url(_admin_url(POSTGRES_URL)).set(database=name).render_as_string(hide_password=False))
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_postgres(engine: Engine) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    extra = []
    with engine.begin() as conn:
        # Feature branches add tables the core metadata does not know; empty them all.
        rows = conn.execute(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")
        ).scalars()
        extra = [f'"{r}"' for r in rows]
        conn.execute(text(f"TRUNCATE {', '.join(extra) or tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path) -> str:
    """A migrated, empty database URL on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "dataslo.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("postgres_database")
    engine = make_engine(url)
    _truncate_postgres(engine)
    engine.dispose()
    PostgresUsage.count += 1
    return url


@pytest.fixture
def engine(db_url) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine) -> Iterator[Session]:
    with make_session_factory(engine)() as s:
        yield s


def pytest_sessionfinish(session, exitstatus):
    """CI sets DATASLO_REQUIRE_POSTGRES=1: a run where no PostgreSQL test ran must fail."""
    if os.environ.get("DATASLO_REQUIRE_POSTGRES") == "1" and PostgresUsage.count == 0:
        if session.testscollected:
            print("\nERROR: DATASLO_REQUIRE_POSTGRES=1 but no PostgreSQL test ran")
            session.exitstatus = 1


@pytest.fixture
def app_settings(db_url):
    from app.settings import Settings

    # Scheduled work off: tests evaluate and deliver at times they choose.
    return Settings(database_url=db_url, auth="auto", slo_scheduler=False)


@pytest.fixture
def client(app_settings):
    """A TestClient with the lifespan running (so the group-commit writer is up)."""
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app(app_settings)) as c:
        yield c
