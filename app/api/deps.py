"""Request dependencies. The request owns the transaction: services only flush, and the
session dependency commits once the handler returned without error."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from app.auth import Principal, authenticate
from app.errors import Forbidden
from app.settings import Settings


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.session_factory() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


async def _principal(request: Request) -> Principal:
    # Async on purpose: a sync dependency costs a thread-pool hop per request, which
    # halved the ingest endpoint's ceiling. The token table is read (in a thread) only
    # when the cache is stale; otherwise this is a dict lookup.
    cache = request.app.state.token_cache
    if cache.stale():
        await asyncio.to_thread(cache.refresh)
    return authenticate(cache, request.headers.get("authorization"))


PrincipalDep = Annotated[Principal, Depends(_principal)]


def require_scope(scope: str):
    """Dependency factory: the caller's token must carry `scope` (admin implies all)."""

    async def check(principal: PrincipalDep) -> Principal:
        if not principal.allows(scope):
            raise Forbidden(f"this token lacks the '{scope}' scope")
        return principal

    return Depends(check)


ReadScope = require_scope("read")
IngestScope = require_scope("ingest")
AdminScope = require_scope("admin")
