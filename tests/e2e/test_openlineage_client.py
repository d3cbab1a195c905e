"""The real openlineage-python client, over its HTTP transport, against the real server."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import output_statistics_output_dataset, schema_dataset
from openlineage.client.transport.http import ApiKeyTokenProvider, HttpCompression, HttpConfig, HttpTransport
from servers import dataslo, running_service
from sqlalchemy import select

from app.store.db import make_engine, make_session_factory
from app.store.models import DatasetVersion, LineageEvent, Run as RunRow

pytestmark = pytest.mark.e2e


def _client(base: str, api_key: str | None, compression=None) -> OpenLineageClient:
    auth = ApiKeyTokenProvider({"apiKey": api_key}) if api_key else None
    config = HttpConfig(url=base, compression=compression, **({"auth": auth} if auth else {}))
    return OpenLineageClient(transport=HttpTransport(config))


def test_client_with_api_key_over_http(db_url):
    env = {"DATASLO_DATABASE_URL": db_url}
    created = dataslo("token", "create", "airflow-prod", "--scope", "ingest", env=env)
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip().splitlines()[-1]
    with running_service(db_url) as base:
        # Auth is enforced now that a token exists.
        assert httpx.post(f"{base}/api/v1/lineage", json={}).status_code == 401
        assert httpx.post(f"{base}/api/v1/lineage", json={},
                          headers={"Authorization": "Bearer wrong"}).status_code == 401

        client = _client(base, secret, compression=HttpCompression.GZIP)
        run_id = str(uuid.uuid4())
        t0 = datetime(2026, 11, 2, 6, tzinfo=UTC)
        job = Job(namespace="e2e", name="load_orders")
        out = OutputDataset(
            namespace="warehouse", name="orders",
            facets={"schema": schema_dataset.SchemaDatasetFacet(
                fields=[schema_dataset.SchemaDatasetFacetFields(name="id", type="bigint")])},
            outputFacets={"outputStatistics": output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
                rowCount=1234)},
        )
        inp = InputDataset(namespace="shop", name="public.orders")
        # Sent out of order and twice: COMPLETE first, then START, then COMPLETE again.
        complete = RunEvent(eventTime=(t0 + timedelta(minutes=3)).isoformat(), producer="e2e",
                            eventType=RunState.COMPLETE, run=Run(runId=run_id), job=job, inputs=[inp], outputs=[out])
        client.emit(complete)
        client.emit(RunEvent(eventTime=t0.isoformat(), producer="e2e", eventType=RunState.START,
                             run=Run(runId=run_id), job=job, inputs=[inp], outputs=[out]))
        client.emit(complete)

        # A read-only token cannot ingest.
        read_only = dataslo("token", "create", "viewer", "--scope", "read", env=env).stdout.strip()
        r = httpx.post(f"{base}/api/v1/lineage", json={}, headers={"Authorization": f"Bearer {read_only}"})
        assert r.status_code in (401, 403)  # 401 until the token cache refreshes, then 403

    engine = make_engine(db_url)
    with make_session_factory(engine)() as s:
        assert len(s.scalars(select(LineageEvent)).all()) == 2
        run = s.scalars(select(RunRow)).one()
        assert run.state == "COMPLETED"
        assert run.started_at == t0
        assert run.ended_at == t0 + timedelta(minutes=3)
        assert s.scalars(select(DatasetVersion.row_count)).all() == [1234]
    engine.dispose()


def test_serve_refuses_non_loopback_without_tokens(db_url):
    result = dataslo("serve", "--host", "0.0.0.0", "--port", "1", env={"DATASLO_DATABASE_URL": db_url})
    assert result.returncode == 2
    assert "refusing to listen on 0.0.0.0" in result.stderr
