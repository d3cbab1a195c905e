"""Database leases: at most one replica runs a given piece of scheduled work at a time.

Two dataslo replicas on one PostgreSQL must never both evaluate SLOs or both send a
notification. A lease is a row (name, holder, expires_at); taking it is one conditional
UPDATE (or INSERT for a new name), which both databases execute atomically. The holder
renews it on every tick; if a replica dies, its lease expires and another takes over.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import String, or_, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.store.dialect import insert_ignore
from app.store.models import Base
from app.store.types import utcnow


class Lease(Base):
    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    holder: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime]


def try_acquire(session: Session, name: str, holder: str, ttl: timedelta, now: datetime | None = None) -> bool:
    """Take or renew the lease; True if `holder` has it until now + ttl. Commits nothing."""
    now = now or utcnow()
    result = session.execute(
        update(Lease)
        .where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at < now))
        .values(holder=holder, expires_at=now + ttl)
    )
    if result.rowcount:
        return True
    inserted = session.execute(
        insert_ignore(session, Lease, ["name"])
        .values(name=name, holder=holder, expires_at=now + ttl)
        .returning(Lease.name)
    )
    return inserted.first() is not None


def release(session: Session, name: str, holder: str) -> None:
    session.execute(
        update(Lease).where(Lease.name == name, Lease.holder == holder).values(expires_at=utcnow() - timedelta(seconds=1))
    )
