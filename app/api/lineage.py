"""Lineage read endpoints: graph, impact, column lineage, run lineage, search, schema history.

Thin on purpose: parameters in, app.lineage out. Answers are serialised with orjson
because a graph of thousands of nodes spends longer in FastAPI's generic encoder than in
the database.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import unquote

import orjson
from fastapi import APIRouter, Query, Request, Response

from app.api.deps import ReadScope, SessionDep
from app.lineage.columns import column_lineage
from app.lineage.graph import DEFAULT_DEPTH, lineage_graph
from app.lineage.impact import impact
from app.lineage.runs import upstream_runs
from app.lineage.schema import schema_diff, versions
from app.lineage.search import search

router = APIRouter(prefix="/api/v1", tags=["lineage"], dependencies=[ReadScope])

NodeId = Annotated[str, Query(alias="nodeId", description="dataset:<ns>:<name>, job:<ns>:<name>, ...")]
Limit = Annotated[int | None, Query(description="maximum nodes returned; `truncated` says if more exist")]
At = Annotated[datetime | None, Query(description="the graph as it stood at this time (ISO 8601)")]


def _json(payload: dict[str, Any]) -> Response:
    return Response(orjson.dumps(payload, option=orjson.OPT_UTC_Z), media_type="application/json")


@router.get("/lineage")
def get_lineage(
    session: SessionDep,
    node_id: NodeId,
    depth: int = DEFAULT_DEPTH,
    direction: str = "both",
    limit: Limit = None,
    at: At = None,
) -> Response:
    """Marquez-shape graph around a node, with direction, node limit and time travel."""
    return _json(lineage_graph(session, node_id, depth=depth, direction=direction, limit=limit, at=at))


@router.get("/lineage/impact")
def get_impact(
    session: SessionDep,
    node_id: NodeId,
    direction: str = "downstream",
    depth: int | None = None,
    limit: Annotated[int | None, Query(description="nodes per page (default 100); the summary "
                                       "and totalCount always cover everything reached")] = None,
    offset: int = 0,
    at: At = None,
) -> Response:
    """Blast radius: totals, failing nodes and owners of everything reached, and a page of
    the nodes nearest first, with distance, owners, last run state and last update."""
    return _json(impact(session, node_id, direction=direction, depth=depth, limit=limit,
                        offset=offset, at=at))


@router.get("/column-lineage")
def get_column_lineage(
    session: SessionDep,
    node_id: NodeId,
    depth: int = DEFAULT_DEPTH,
    with_downstream: Annotated[bool, Query(alias="withDownstream")] = False,
    limit: Limit = None,
) -> Response:
    return _json(column_lineage(session, node_id, depth=depth, with_downstream=with_downstream,
                                limit=limit))


@router.get("/runlineage/upstream")
def get_run_lineage(
    session: SessionDep,
    run_id: Annotated[str, Query(alias="runId")],
    depth: int = DEFAULT_DEPTH,
    limit: Limit = None,
) -> Response:
    """The runs that produced the dataset versions a run read, recursively."""
    return _json(upstream_runs(session, run_id, depth=depth, limit=limit))


@router.get("/search")
def get_search(
    session: SessionDep,
    q: str,
    filter: Annotated[str | None, Query(description="DATASET or JOB")] = None,
    limit: int = 10,
    namespace: str | None = None,
) -> Response:
    return _json(search(session, q, kind=filter, limit=limit, namespace=namespace))


def _dataset_path(request: Request, namespace: str, name: str, suffix: str) -> tuple[str, str]:
    """Namespace and name from the raw path, so an encoded '/' (%2F) stays inside its part.

    Starlette routes on the decoded path, where `gs%3A%2F%2Fbucket` has become
    `gs://bucket` and the split between namespace and name is lost; the raw path still
    has it whenever the client encoded the namespace, as Marquez clients do.
    """
    raw = request.scope.get("raw_path")
    if raw:
        parts = raw.decode("latin-1").split("?", 1)[0].split("/")
        try:
            i = parts.index("namespaces")
        except ValueError:
            return namespace, name
        if len(parts) > i + 4 and parts[i + 2] == "datasets" and parts[-1] == suffix:
            return unquote(parts[i + 1]), unquote("/".join(parts[i + 3 : -1]))
    return namespace, name


@router.get("/namespaces/{namespace:path}/datasets/{name:path}/versions")
def get_versions(
    request: Request, session: SessionDep, namespace: str, name: str, limit: int = 100,
    offset: int = 0,
) -> Response:
    """Each version's schema and its change against the schema before it, newest first."""
    namespace, name = _dataset_path(request, namespace, name, "versions")
    return _json(versions(session, namespace, name, limit=limit, offset=offset))


@router.get("/namespaces/{namespace:path}/datasets/{name:path}/schema-diff")
def get_schema_diff(
    request: Request,
    session: SessionDep,
    namespace: str,
    name: str,
    from_version: Annotated[str | None, Query(alias="from")] = None,
    to_version: Annotated[str | None, Query(alias="to")] = None,
) -> Response:
    """Columns added, removed and retyped between two versions; removed/retyped = breaking."""
    namespace, name = _dataset_path(request, namespace, name, "schema-diff")
    return _json(schema_diff(session, namespace, name, from_version=from_version, to_version=to_version))
