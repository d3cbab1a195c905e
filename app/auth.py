"""Bearer tokens with scopes (ingest, read, admin), stored as sha256 hashes.

The openlineage-python client sends its `api_key` as `Authorization: Bearer <key>`, so an
ingest token works there unchanged. Auth is enforced once any token exists (mode `auto`),
always (`required`), or never (`disabled`, which `serve` only allows on loopback).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.errors import Conflict, InvalidInput, NotFound, Unauthorized
from app.store.models import ApiToken
from app.store.types import utcnow

SCOPES = ("ingest", "read", "admin")
TOKEN_PREFIX = "dslo_"


@dataclass(frozen=True)
class Principal:
    name: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        return "admin" in self.scopes or scope in self.scopes


ANONYMOUS = Principal("anonymous", frozenset(SCOPES))


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(session: Session, name: str, scopes: list[str]) -> str:
    """Create a token and return its secret; only the hash is stored."""
    bad = [s for s in scopes if s not in SCOPES]
    if bad or not scopes:
        raise InvalidInput(f"scopes must be a non-empty subset of {', '.join(SCOPES)}; got {bad or scopes}")
    if session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
        raise Conflict(f"a token named '{name}' already exists")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(name=name, token_hash=hash_token(secret), prefix=secret[:10], scopes=",".join(sorted(set(scopes))))
    )
    session.flush()
    return secret


def revoke_token(session: Session, name: str) -> None:
    result = session.execute(
        update(ApiToken).where(ApiToken.name == name, ApiToken.revoked_at.is_(None)).values(revoked_at=utcnow())
    )
    if result.rowcount == 0:
        raise NotFound(f"no active token named '{name}'")


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.created_at)))


class TokenCache:
    """Keeps the per-request cost of auth to a dict lookup.

    Tokens are created and revoked by the CLI in another process, so the cache refreshes
    itself from the database every `ttl` seconds; a revocation takes effect within that.
    """

    def __init__(self, session_factory: sessionmaker[Session], mode: str, ttl: float = 5.0) -> None:
        self._session_factory = session_factory
        self._mode = mode
        self._ttl = ttl
        self._lock = threading.Lock()
        self._loaded_at = -1e18
        self._by_hash: dict[str, Principal] = {}

    def stale(self) -> bool:
        return time.monotonic() - self._loaded_at >= self._ttl

    def refresh(self) -> None:
        self._refresh()

    def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._loaded_at < self._ttl:
            return
        with self._lock:
            if now - self._loaded_at < self._ttl:
                return
            with self._session_factory() as session:
                rows = session.execute(
                    select(ApiToken.token_hash, ApiToken.name, ApiToken.scopes).where(
                        ApiToken.revoked_at.is_(None)
                    )
                ).all()
            self._by_hash = {h: Principal(n, frozenset(s.split(","))) for h, n, s in rows}
            self._loaded_at = now

    def invalidate(self) -> None:
        self._loaded_at = -1e18

    def enforced(self) -> bool:
        if self._mode == "disabled":
            return False
        if self._mode == "required":
            return True
        self._refresh()
        return bool(self._by_hash)

    def lookup(self, secret: str) -> Principal | None:
        self._refresh()
        return self._by_hash.get(hash_token(secret))


def count_active_tokens(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(ApiToken).where(ApiToken.revoked_at.is_(None))) or 0


def authenticate(cache: TokenCache, authorization: str | None) -> Principal:
    if not cache.enforced():
        return ANONYMOUS
    if not authorization:
        raise Unauthorized("missing bearer token: send 'Authorization: Bearer <token>'")
    scheme, _, secret = authorization.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthorized("expected 'Authorization: Bearer <token>'")
    principal = cache.lookup(secret.strip())
    if principal is None:
        raise Unauthorized("unknown or revoked token")
    return principal
