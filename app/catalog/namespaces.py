"""Namespaces, Marquez-shaped.

A namespace row is created the first time an event names it and never changes after,
so `updatedAt` is its creation time; there is no owner or description to report.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.catalog import lookup
from app.catalog.page import Page, iso, listing
from app.store.models import Namespace


def namespace_view(row: Namespace) -> dict[str, Any]:
    return {
        "name": row.name,
        "createdAt": iso(row.created_at),
        "updatedAt": iso(row.created_at),
        "ownerName": None,
        "description": None,
        "isHidden": False,
    }


def list_namespaces(session: Session, page: Page) -> dict[str, Any]:
    total = session.scalar(select(func.count()).select_from(Namespace)) or 0
    rows = session.scalars(
        select(Namespace).order_by(Namespace.name, Namespace.id).limit(page.limit).offset(page.offset)
    )
    return listing("namespaces", [namespace_view(r) for r in rows], total)


def get_namespace(session: Session, name: str) -> dict[str, Any]:
    return namespace_view(lookup.namespace(session, name))
