"""Incidents, silences and maintenance windows over HTTP.

Reads need the `read` scope; anything that changes what people are told (acknowledge,
resolve, silences, windows) needs `admin`. Handlers only flush: the request dependency
commits, so an acknowledgement and the notifications it queues land together.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select

from app.alerts import lifecycle, maintenance, silences, views
from app.alerts.matchers import Matcher
from app.alerts.routing import WindowSpec, parse_duration
from app.alerts.runtime import AlertRuntime, get_runtime
from app.api.deps import AdminScope, ReadScope, SessionDep
from app.errors import InvalidInput
from app.store.alert_models import MaintenanceWindow
from app.store.types import utcnow

router = APIRouter(prefix="/api/v1", tags=["incidents"])


def _runtime(request: Request) -> AlertRuntime:
    """The app's alerting runtime when the lifespan installed one, else the process one."""
    return getattr(request.app.state, "alert_runtime", None) or get_runtime()


class Action(BaseModel):
    model_config = ConfigDict(extra="forbid")

    by: str = Field(min_length=1, max_length=255, description="Who acts (shown to everyone).")
    comment: str = Field(default="", max_length=4000)


@router.get("/incidents", dependencies=[ReadScope])
def list_incidents(
    session: SessionDep,
    state: Annotated[str | None, Query(description="firing, acknowledged, resolved or open")] = None,
    severity: Annotated[str | None, Query(description="page or ticket")] = None,
    owner: Annotated[str | None, Query(description="leader, symptom or downstream owner")] = None,
    slo: Annotated[str | None, Query(description="SLO name (leader or symptom)")] = None,
    kind: Annotated[str | None, Query(description="slo_burn, schema_change, stuck_run")] = None,
    limit: Annotated[int, Query(ge=0, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    return views.list_incidents(session, state=state, severity=severity, owner=owner, slo=slo,
                                kind=kind, limit=limit, offset=offset)


@router.get("/incidents/{incident_id}", dependencies=[ReadScope])
def get_incident(incident_id: int, session: SessionDep) -> dict[str, Any]:
    return views.incident_detail(session, incident_id)


@router.post("/incidents/{incident_id}/acknowledge", dependencies=[AdminScope])
def acknowledge(incident_id: int, body: Action, session: SessionDep,
                request: Request) -> dict[str, Any]:
    lifecycle.acknowledge(session, _runtime(request), incident_id, body.by, utcnow(),
                          body.comment)
    session.flush()
    return views.incident_detail(session, incident_id)


@router.post("/incidents/{incident_id}/resolve", dependencies=[AdminScope])
def resolve(incident_id: int, body: Action, session: SessionDep,
            request: Request) -> dict[str, Any]:
    lifecycle.resolve_by_id(session, _runtime(request), incident_id, body.by, utcnow(),
                            body.comment)
    session.flush()
    return views.incident_detail(session, incident_id)


# -- silences ------------------------------------------------------------------------


class SilenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    matchers: list[Matcher] = Field(min_length=1)
    starts_at: datetime | None = Field(default=None, description="default: now")
    ends_at: datetime | None = None
    duration: str | float | None = Field(default=None, description="instead of ends_at: 2h")
    created_by: str = Field(min_length=1, max_length=255)
    comment: str = Field(min_length=1, max_length=4000)

    @model_validator(mode="after")
    def _one_end(self) -> SilenceIn:
        if (self.ends_at is None) == (self.duration is None):
            raise ValueError("give exactly one of ends_at and duration")
        for value in (self.starts_at, self.ends_at):
            if value is not None and value.utcoffset() is None:
                raise ValueError("times need a UTC offset, e.g. 2026-12-01T10:00:00Z")
        return self


class SilencePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ends_at: datetime | None = None
    comment: str | None = Field(default=None, max_length=4000)


@router.post("/silences", status_code=201, dependencies=[AdminScope])
def create_silence(body: SilenceIn, session: SessionDep) -> dict[str, Any]:
    now = utcnow()
    starts = body.starts_at or now
    if body.ends_at is not None:
        ends = body.ends_at
    else:
        try:
            ends = starts + timedelta(seconds=parse_duration(body.duration))
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
    silence = silences.create_silence(session, matchers=body.matchers, starts_at=starts,
                                      ends_at=ends, created_by=body.created_by,
                                      comment=body.comment, now=now)
    return silences.silence_dict(silence, now)


@router.get("/silences", dependencies=[ReadScope])
def list_silences(
    session: SessionDep,
    state: Annotated[str | None, Query(description="pending, active or expired")] = None,
) -> dict[str, Any]:
    now = utcnow()
    rows = silences.list_silences(session, now, state)
    return {"silences": [silences.silence_dict(s, now) for s in rows], "totalCount": len(rows)}


@router.get("/silences/{silence_id}", dependencies=[ReadScope])
def get_silence(silence_id: int, session: SessionDep) -> dict[str, Any]:
    return silences.silence_dict(silences.get_silence(session, silence_id), utcnow())


@router.patch("/silences/{silence_id}", dependencies=[AdminScope])
def update_silence(silence_id: int, body: SilencePatch, session: SessionDep) -> dict[str, Any]:
    now = utcnow()
    silence = silences.update_silence(session, silence_id, now, ends_at=body.ends_at,
                                      comment=body.comment)
    return silences.silence_dict(silence, now)


@router.delete("/silences/{silence_id}", dependencies=[AdminScope])
def expire_silence(silence_id: int, session: SessionDep) -> dict[str, Any]:
    now = utcnow()
    return silences.silence_dict(silences.expire_silence(session, silence_id, now), now)


# -- maintenance windows -------------------------------------------------------------


class WindowIn(WindowSpec):
    created_by: str = Field(default="api", max_length=255)


@router.get("/maintenance-windows", dependencies=[ReadScope])
def list_windows(session: SessionDep) -> dict[str, Any]:
    now = utcnow()
    rows = session.scalars(select(MaintenanceWindow).order_by(MaintenanceWindow.name)).all()
    return {"windows": [maintenance.window_dict(w, now) for w in rows], "totalCount": len(rows)}


@router.post("/maintenance-windows", status_code=201, dependencies=[AdminScope])
def create_window(body: WindowIn, session: SessionDep) -> dict[str, Any]:
    spec = WindowSpec.model_validate(body.model_dump(exclude={"created_by"}))
    now = utcnow()
    return maintenance.window_dict(maintenance.create_window(session, spec, body.created_by, now),
                                   now)


@router.delete("/maintenance-windows/{window_id}", status_code=204, dependencies=[AdminScope])
def delete_window(window_id: int, session: SessionDep) -> Response:
    maintenance.delete_window(session, window_id)
    return Response(status_code=204)
