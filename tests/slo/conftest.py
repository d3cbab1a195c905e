"""SLO tests evaluate at chosen instants, so the app's own scheduler stays off here."""

from __future__ import annotations

import json

import pytest

from app.store.db import make_session_factory


@pytest.fixture
def app_settings(db_url):
    from app.settings import Settings

    return Settings(database_url=db_url, auth="auto", slo_scheduler=False)


@pytest.fixture
def factory(engine):
    return make_session_factory(engine)


class Poster:
    """Sends events through the real ingestion path (HTTP, validation, group commit)."""

    def __init__(self, client) -> None:
        self.client = client

    def __call__(self, *events: dict) -> None:
        r = self.client.post("/api/v1/lineage/batch", content=json.dumps(list(events)),
                             headers={"content-type": "application/json"})
        assert r.status_code == 200, r.text
        assert r.json()["summary"]["failed"] == 0, r.text


@pytest.fixture
def post(client) -> Poster:
    return Poster(client)
