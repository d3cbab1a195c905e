"""SLO endpoints: definitions (admin writes), listings, status, history, OpenSLO export.

An SLO id is the id of one evaluated SLO: a definition targeting one dataset or job has
one; a selector definition has one per match (all share the definition's name, and
`GET /api/v1/slos?name=` lists them). PUT and DELETE on any of them act on the
definition, hence on all its matches.

Bodies are native or OpenSLO documents, as YAML or JSON (JSON is YAML, so one parser
serves both and every problem comes back with its line: 422
`{"detail": [{"file", "line", "path", "reason"}]}`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.api.deps import AdminScope, ReadScope, SessionDep
from app.catalog import Page
from app.catalog.page import listing
from app.errors import InvalidInput
from app.slo.definitions import SLODefinition
from app.slo.loader import SLOValidationError, load_slo_documents
from app.slo.openslo import to_openslo
from app.slo.store import (
    apply_definition,
    create_definition,
    definition_of,
    definition_row,
    delete_definition,
    ensure_api_may_change,
)
from app.slo.views import get_slo, list_slos, slo_history, slo_status
from app.slo.windows import parse_duration

router = APIRouter(prefix="/api/v1", tags=["slos"])

BODY_DOC = {"requestBody": {"required": True, "content": {
    "application/yaml": {"schema": {"type": "string"}},
    "application/json": {"schema": {"type": "object"}},
}}}


async def _document(request: Request) -> SLODefinition:
    raw = await request.body()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("the body must be UTF-8 text (YAML or JSON)") from None
    try:
        slos = load_slo_documents(text, "<request>")
    except SLOValidationError as exc:
        raise InvalidInput("invalid SLO document", details=[
            {"file": p.file, "line": p.line, "path": p.path, "reason": p.reason} for p in exc.problems
        ]) from None
    if len(slos) != 1:
        raise InvalidInput(f"send exactly one SLO per request; found {len(slos)}", details=[
            {"file": "<request>", "line": None, "path": "", "reason": "one kind: SLO document expected"}
        ])
    return slos[0]


@router.get("/slos", dependencies=[ReadScope])
def get_slos(
    session: SessionDep,
    status: Annotated[str | None, Query(description="breaching | burning | ok | no_data")] = None,
    name: Annotated[str | None, Query(description="every SLO of this definition")] = None,
    limit: Annotated[int, Query(ge=0, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    items, total = list_slos(session, Page(limit=limit, offset=offset), status=status, name=name)
    return listing("slos", items, total)


def _evaluate_after_commit(request: Request, session: Session) -> None:
    """A changed definition is judged at the next pass; ask for that pass once the change
    is committed (the session dependency commits after the handler) rather than letting
    the status wait up to a full evaluation interval."""
    wake = getattr(request.app.state, "evaluate_soon", None)
    if wake is not None:
        event.listen(session, "after_commit", lambda _session: wake(), once=True)


@router.post("/slos", status_code=201, dependencies=[AdminScope], openapi_extra=BODY_DOC)
async def post_slo(request: Request, session: SessionDep) -> JSONResponse:
    slo = await _document(request)
    applied = create_definition(session, slo, source="api")
    _evaluate_after_commit(request, session)
    items, _ = list_slos(session, Page(limit=1000), name=applied.row.name)
    return JSONResponse({"name": applied.row.name, "slos": items}, status_code=201)


@router.get("/slos/{slo_id}", dependencies=[ReadScope])
def get_one(slo_id: int, session: SessionDep) -> dict[str, Any]:
    return get_slo(session, slo_id)


@router.put("/slos/{slo_id}", dependencies=[AdminScope], openapi_extra=BODY_DOC)
async def put_slo(slo_id: int, request: Request, session: SessionDep) -> dict[str, Any]:
    slo = await _document(request)
    _, d = definition_row(session, slo_id)
    ensure_api_may_change(d)
    if slo.name != d.name:
        raise InvalidInput("the document's name must match the SLO being replaced", details=[
            {"file": "<request>", "line": None, "path": "name",
             "reason": f"expected {d.name!r}, got {slo.name!r}"}])
    applied = apply_definition(session, slo, source="api")
    if applied.changed:
        _evaluate_after_commit(request, session)
    items, _ = list_slos(session, Page(limit=1000), name=applied.row.name)
    return {"name": applied.row.name, "changed": applied.changed, "slos": items}


@router.delete("/slos/{slo_id}", status_code=204, dependencies=[AdminScope])
def delete_slo(slo_id: int, request: Request, session: SessionDep) -> Response:
    _, d = definition_row(session, slo_id)
    ensure_api_may_change(d)
    delete_definition(session, d)
    _evaluate_after_commit(request, session)  # its open alerts resolve at that pass
    return Response(status_code=204)


@router.get("/slos/{slo_id}/status", dependencies=[ReadScope])
def get_status(
    slo_id: int, session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500, description="how many budget spenders")] = 20,
) -> dict[str, Any]:
    return slo_status(session, slo_id, limit)


@router.get("/slos/{slo_id}/history", dependencies=[ReadScope])
def get_history(
    slo_id: int, session: SessionDep,
    start: Annotated[datetime | None, Query(alias="from", description="ISO 8601; default to - 7d")] = None,
    end: Annotated[datetime | None, Query(alias="to", description="ISO 8601; default: last evaluation")] = None,
    step: Annotated[str | None, Query(description="e.g. 5m, 1h; default: range / 200")] = None,
) -> dict[str, Any]:
    try:
        step_value = parse_duration(step) if step is not None else None
    except ValueError as exc:
        raise InvalidInput(str(exc), details=[{"path": "step", "reason": str(exc)}]) from None
    return slo_history(session, slo_id, _aware(start), _aware(end), step_value)


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


@router.get("/slos/{slo_id}/openslo", dependencies=[ReadScope])
def get_openslo(
    slo_id: int, session: SessionDep,
    format: Annotated[str, Query(pattern="^(json|yaml)$")] = "json",
) -> Response:
    _, d = definition_row(session, slo_id)
    doc = to_openslo(definition_of(d))
    if format == "yaml":
        return Response(yaml.safe_dump(doc, sort_keys=False), media_type="application/yaml")
    return JSONResponse(doc)
