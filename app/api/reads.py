"""Marquez-shaped read API: namespaces, jobs, datasets, runs and raw lineage events.

Lists answer `{"<things>": [...], "totalCount": n}` and take `limit` (default 100, at most
1000) and `offset`. Unknown names give 404, bad parameters 422.

Names may contain slashes (`s3://bucket/path`, `postgres://host:5432`). Clients should
percent-encode them (`%2F`), as Marquez clients do: the request's raw path then splits
unambiguously, whatever the names contain. Unencoded slashes work too, as long as a name
does not itself contain a `/jobs/`, `/datasets/` or trailing `/runs` segment.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import unquote

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from app import catalog
from app.api.deps import ReadScope, SessionDep
from app.catalog import DEFAULT_LIMIT, MAX_LIMIT, Page
from app.errors import InvalidInput

router = APIRouter(prefix="/api/v1", tags=["reads"], dependencies=[ReadScope])

NAMESPACES_PREFIX = "/api/v1/namespaces/"


class FastJSONResponse(JSONResponse):
    """orjson: pages of up to 1000 jobs with facets serialise several times faster."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


Limit = Annotated[
    int,
    Query(ge=0, le=MAX_LIMIT, description=f"Page size, at most {MAX_LIMIT}."),
]
Offset = Annotated[int, Query(ge=0, description="Items to skip.")]


def _page(limit: int, offset: int) -> Page:
    return Page(limit=limit, offset=offset)


def _page_from_query(request: Request) -> Page:
    """Pagination when a list was reached through a route that does not declare it."""
    values = {}
    for key, default in (("limit", DEFAULT_LIMIT), ("offset", 0)):
        raw = request.query_params.get(key)
        try:
            values[key] = default if raw is None else int(raw)
        except ValueError:
            raise InvalidInput(f"{key} must be an integer; got {raw!r}") from None
    return Page(**values)


# -- namespace-scoped resources ---------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    kind: str  # namespace, jobs, job, runs, datasets, dataset
    namespace: str
    name: str | None = None


def _target_from_raw_path(request: Request) -> _Target | None:
    """Split the path as the client sent it, before `%2F` became `/`.

    Returns None when the raw path is not available or its shape is not one of ours
    (names sent with unencoded slashes): the route's own parameters then decide.
    """
    raw = request.scope.get("raw_path")
    if not raw:
        return None
    path = raw.decode("latin-1").split("?", 1)[0]
    at = path.find(NAMESPACES_PREFIX)
    if at < 0:
        return None
    parts = path[at + len(NAMESPACES_PREFIX) :].split("/")
    names = [unquote(p) for p in parts]
    if any(not n for n in names):
        return None
    if len(parts) == 1:
        return _Target("namespace", names[0])
    if len(parts) == 2 and parts[1] in ("jobs", "datasets"):
        return _Target(parts[1], names[0])
    if len(parts) == 3 and parts[1] in ("jobs", "datasets"):
        return _Target("job" if parts[1] == "jobs" else "dataset", names[0], names[2])
    if len(parts) == 4 and parts[1] == "jobs" and parts[3] == "runs":
        return _Target("runs", names[0], names[2])
    return None


def _serve(request: Request, session: SessionDep, routed: _Target, page: Page | None) -> Any:
    target = _target_from_raw_path(request) or routed
    if target.kind in ("jobs", "datasets", "runs") and (page is None or target.kind != routed.kind):
        page = _page_from_query(request)
    if target.kind == "namespace":
        return catalog.get_namespace(session, target.namespace)
    if target.kind == "jobs":
        return catalog.list_jobs(session, target.namespace, page)
    if target.kind == "job":
        return catalog.get_job(session, target.namespace, target.name)
    if target.kind == "runs":
        return catalog.list_runs(session, target.namespace, target.name, page)
    if target.kind == "datasets":
        return catalog.list_datasets(session, target.namespace, page)
    return catalog.get_dataset(session, target.namespace, target.name)


@router.get("/namespaces", response_class=FastJSONResponse, summary="List namespaces")
def list_namespaces(session: SessionDep, limit: Limit = DEFAULT_LIMIT, offset: Offset = 0) -> Any:
    return catalog.list_namespaces(session, _page(limit, offset))


# Order matters: `{name:path}` matches slashes, so the most specific routes come first.
@router.get(
    "/namespaces/{namespace:path}/jobs/{job:path}/runs",
    response_class=FastJSONResponse,
    summary="List the runs of a job, newest first",
)
def list_runs(
    request: Request, session: SessionDep, namespace: str, job: str,
    limit: Limit = DEFAULT_LIMIT, offset: Offset = 0,
) -> Any:
    return _serve(request, session, _Target("runs", namespace, job), _page(limit, offset))


@router.get("/namespaces/{namespace:path}/jobs/{job:path}", response_class=FastJSONResponse,
            summary="Get a job")
def get_job(request: Request, session: SessionDep, namespace: str, job: str) -> Any:
    return _serve(request, session, _Target("job", namespace, job), None)


@router.get("/namespaces/{namespace:path}/jobs", response_class=FastJSONResponse,
            summary="List the jobs of a namespace")
def list_jobs(
    request: Request, session: SessionDep, namespace: str,
    limit: Limit = DEFAULT_LIMIT, offset: Offset = 0,
) -> Any:
    return _serve(request, session, _Target("jobs", namespace), _page(limit, offset))


@router.get("/namespaces/{namespace:path}/datasets/{dataset:path}", response_class=FastJSONResponse,
            summary="Get a dataset (a symlink alias resolves to its dataset)")
def get_dataset(request: Request, session: SessionDep, namespace: str, dataset: str) -> Any:
    return _serve(request, session, _Target("dataset", namespace, dataset), None)


@router.get("/namespaces/{namespace:path}/datasets", response_class=FastJSONResponse,
            summary="List the datasets of a namespace")
def list_datasets(
    request: Request, session: SessionDep, namespace: str,
    limit: Limit = DEFAULT_LIMIT, offset: Offset = 0,
) -> Any:
    return _serve(request, session, _Target("datasets", namespace), _page(limit, offset))


@router.get("/namespaces/{namespace:path}", response_class=FastJSONResponse, summary="Get a namespace")
def get_namespace(request: Request, session: SessionDep, namespace: str) -> Any:
    return _serve(request, session, _Target("namespace", namespace), None)


# -- runs, jobs across namespaces, raw events ---------------------------------------------


@router.get("/jobs/runs/{run_id}", response_class=FastJSONResponse,
            summary="Get a run by its runId (with every job that runId belongs to)")
def get_run(session: SessionDep, run_id: uuid.UUID) -> Any:
    return catalog.get_run(session, str(run_id))


@router.get("/jobs", response_class=FastJSONResponse,
            summary="List jobs across namespaces, most recently run first")
def find_jobs(
    session: SessionDep,
    last_run_states: Annotated[
        list[str] | None,
        Query(alias="lastRunStates",
              description="Only jobs whose latest run is in one of these states "
                          "(NEW, RUNNING, COMPLETED, FAILED, ABORTED); repeat or comma-separate."),
    ] = None,
    namespace: Annotated[str | None, Query(description="Only jobs of this namespace.")] = None,
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
) -> Any:
    return catalog.find_jobs(
        session, _page(limit, offset), last_run_states=last_run_states, namespace=namespace
    )


@router.get("/events/lineage", response_class=FastJSONResponse,
            summary="Raw lineage events with after <= eventTime < before")
def list_events(
    session: SessionDep,
    before: Annotated[datetime | None, Query(description="Only events before this instant.")] = None,
    after: Annotated[datetime | None, Query(description="Only events at or after this instant.")] = None,
    sort_direction: Annotated[str, Query(alias="sortDirection", description="desc (default) or asc.")]
    = "desc",
    limit: Limit = DEFAULT_LIMIT,
    offset: Offset = 0,
) -> Any:
    return catalog.list_events(
        session, _page(limit, offset), before=before, after=after, sort_direction=sort_direction
    )
