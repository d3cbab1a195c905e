"""The FastAPI application. Engines and workers are built in the lifespan, never at import."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.api.routes import all_routers
from app.auth import TokenCache
from app.errors import DomainError
from app.ingest.writer import EventStore, GroupCommitWriter
from app.metrics import ServiceMetrics
from app.settings import Settings, get_settings
from app.store.db import make_engine, make_session_factory

log = logging.getLogger("dataslo")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        engine = make_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
        session_factory = make_session_factory(engine)
        metrics = ServiceMetrics()
        app.state.settings = settings
        app.state.engine = engine
        app.state.session_factory = session_factory
        app.state.metrics = metrics
        app.state.token_cache = TokenCache(session_factory, settings.auth)
        app.state.event_store = EventStore(session_factory, on_commit=metrics.record_commit)
        writers = settings.ingest_writers or (2 if engine.dialect.name == "postgresql" else 1)
        app.state.writer = GroupCommitWriter(app.state.event_store, settings.ingest_max_batch, writers)
        await app.state.writer.start()
        try:
            yield
        finally:
            await app.state.writer.stop()
            engine.dispose()

    app = FastAPI(
        title="dataslo",
        version="0.1.0",
        description="SLOs, error budgets and burn-rate alerts for data products, fed by OpenLineage.",
        lifespan=lifespan,
    )
    for router in all_routers():
        app.include_router(router)

    @app.exception_handler(DomainError)
    async def domain_error(_request: Request, exc: DomainError) -> JSONResponse:
        body = {"error": exc.code, "message": exc.message}
        if exc.details is not None:
            body["detail"] = exc.details
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        if exc.status_code == 503:
            headers = {"Retry-After": "1"}
        return JSONResponse(body, status_code=exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = [
            {"path": ".".join(str(p) for p in err["loc"]), "reason": err["msg"]} for err in exc.errors()
        ]
        return JSONResponse({"error": "invalid", "message": "request validation failed", "detail": detail},
                            status_code=422)

    @app.get("/metrics", include_in_schema=False)
    def metrics_endpoint(request: Request) -> Response:
        return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
