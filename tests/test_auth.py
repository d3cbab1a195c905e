"""Tokens: hashed storage, scopes, enforcement modes, revocation."""

from __future__ import annotations

import pytest
from backends import create_tokens
from factories import new_run_id, run_event
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.auth import TokenCache, create_token, hash_token, list_tokens, revoke_token
from app.errors import Conflict, InvalidInput, NotFound
from app.main import create_app
from app.settings import Settings
from app.store.db import make_session_factory
from app.store.models import ApiToken


def test_tokens_are_stored_hashed_and_revocable(engine):
    factory = make_session_factory(engine)
    with factory() as s:
        secret = create_token(s, "ci", ["ingest"])
        s.commit()
        row = s.scalars(select(ApiToken)).one()
        assert row.token_hash == hash_token(secret) and secret not in (row.token_hash, row.prefix + "x")
        with pytest.raises(Conflict):
            create_token(s, "ci", ["read"])
        with pytest.raises(InvalidInput):
            create_token(s, "bad", ["root"])
        revoke_token(s, "ci")
        s.commit()
        with pytest.raises(NotFound):
            revoke_token(s, "ci")
        assert list_tokens(s)[0].revoked_at is not None
    cache = TokenCache(factory, "auto", ttl=0)
    assert cache.lookup(secret) is None
    assert cache.enforced() is False  # the only token is revoked


def _post(client, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/api/v1/lineage", json=run_event("START", new_run_id()), headers=headers)


def test_scopes_and_modes(db_url, engine):
    tokens = create_tokens(db_url, writer=["ingest"], reader=["read"], boss=["admin"])
    ingest, read, admin = tokens["writer"], tokens["reader"], tokens["boss"]
    with TestClient(create_app(Settings(database_url=db_url, auth="auto", slo_scheduler=False))) as client:
        assert _post(client).status_code == 401
        assert _post(client, "nope").status_code == 401
        assert _post(client, read).status_code == 403
        assert _post(client, ingest).status_code == 201
        assert _post(client, admin).status_code == 201
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").json() == {"status": "ok"}
    with TestClient(create_app(Settings(database_url=db_url, auth="disabled", slo_scheduler=False))) as client:
        assert _post(client).status_code == 201


def test_required_mode_without_tokens_refuses_everyone(db_url):
    with TestClient(create_app(Settings(database_url=db_url, auth="required", slo_scheduler=False))) as client:
        r = _post(client)
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == "Bearer"
