"""Builders and helpers shared by the read-API tests (events in through the real
endpoint, answers checked exactly)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings

SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
PRODUCER = "https://github.com/dataslo/tests"
T0 = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


# -- event builders ------------------------------------------------------------------------


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def rid(n: int) -> str:
    return str(uuid.UUID(int=n))


def facet(**fields: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": "https://openlineage.io/spec/facets/x.json", **fields}


def dataset(namespace: str, name: str, *, fields: list[tuple[str, str]] | None = None,
            rows: int | None = None, size: int | None = None, **facets: Any) -> dict[str, Any]:
    ds: dict[str, Any] = {"namespace": namespace, "name": name, "facets": dict(facets)}
    if fields is not None:
        ds["facets"]["schema"] = facet(fields=[{"name": n, "type": t} for n, t in fields])
    if rows is not None or size is not None:
        ds["outputFacets"] = {"outputStatistics": facet(rowCount=rows, size=size)}
    return ds


def parent(run_id: str, namespace: str, name: str) -> dict[str, Any]:
    return facet(run={"runId": run_id}, job={"namespace": namespace, "name": name})


def error(message: str) -> dict[str, Any]:
    return facet(message=message, programmingLanguage="python")


def run_event(event_type: str | None, run_id: str, job: str, minutes: float, *, namespace: str = "ns",
              inputs: list[dict] | None = None, outputs: list[dict] | None = None,
              run_facets: dict[str, Any] | None = None,
              job_facets: dict[str, Any] | None = None) -> dict[str, Any]:
    ev: dict[str, Any] = {
        "eventTime": at(minutes),
        "producer": PRODUCER,
        "schemaURL": SCHEMA_URL,
        "run": {"runId": run_id, "facets": run_facets or {}},
        "job": {"namespace": namespace, "name": job, "facets": job_facets or {}},
        "inputs": inputs or [],
        "outputs": outputs or [],
    }
    if event_type is not None:
        ev["eventType"] = event_type
    return ev


@contextmanager
def service(db_url: str) -> Iterator[TestClient]:
    # Scheduled work off: its background queries would be counted by the N+1 test.
    with TestClient(create_app(Settings(database_url=db_url, auth="auto", slo_scheduler=False))) as client:
        yield client


def post(client: TestClient, *events: dict[str, Any]) -> None:
    for ev in events:
        r = client.post("/api/v1/lineage", json=ev)
        assert r.status_code == 201, r.text


def get(client: TestClient, path: str, status: int = 200, **params: Any) -> Any:
    r = client.get(path, params=params)
    assert r.status_code == status, (path, r.status_code, r.text)
    return r.json()


def ids(items: list[dict[str, Any]]) -> list[Any]:
    return [i["id"] for i in items]


def names(items: list[dict[str, Any]]) -> list[str]:
    return [i["name"] for i in items]


def drop_times(obj: dict[str, Any]) -> dict[str, Any]:
    """createdAt/updatedAt are arrival times: check their format, then leave them out."""
    out = dict(obj)
    for key in ("createdAt", "updatedAt"):
        assert ISO.match(out.pop(key)), obj
    return out
