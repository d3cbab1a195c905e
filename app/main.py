"""The FastAPI application. Engines and workers are built in the lifespan, never at import."""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.alerts.jobs import DELIVERY_JOB, alert_jobs, start_alerting
from app.alerts.process import process_signals
from app.api.routes import all_routers
from app.auth import TokenCache
from app.errors import DomainError
from app.gcpolicy import settle_long_lived
from app.ingest.writer import EventStore, GroupCommitWriter
from app.jobs import ScheduledJob, Scheduler
from app.lineage.cache import install as install_lineage_cache
from app.lineage.nodecache import warm as warm_lineage_caches
from app.metrics import ServiceMetrics
from app.settings import Settings, get_settings
from app.slo.evaluation import signals_for
from app.slo.retention import INTERVAL_SECONDS as RETENTION_INTERVAL
from app.slo.retention import retention_job
from app.slo.service import Evaluator
from app.slo.store import load_directory
from app.store.db import make_engine, make_session_factory

log = logging.getLogger("dataslo")

SLO_JOB = "slo.evaluate"


def _slo_job(app: FastAPI):
    """The scheduled SLO pass: evaluate under the job's lease, then export the metrics."""

    def job(session, now) -> None:
        evaluator: Evaluator = app.state.slo_evaluator
        try:
            evaluations = evaluator.run(session, now)
        except Exception:
            app.state.metrics.slo_pass_errors.inc()
            raise
        app.state.metrics.record_slo_pass(evaluator.last, evaluations, evaluator.removed)
        if evaluator.last.mode == "full":  # its state is built: see app.gcpolicy
            settle_long_lived("the first full SLO pass")

    return job


def _load_slo_dir(settings: Settings, session_factory) -> None:
    if settings.slo_dir is None:
        return
    if not settings.slo_dir.is_dir():
        log.error("DATASLO_SLO_DIR %s is not a folder; no SLO files loaded", settings.slo_dir)
        return
    with session_factory() as session:
        load_directory(session, settings.slo_dir)
        session.commit()


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
        # SLOs (issue 4): files first, then a lease-guarded evaluation job that stored
        # events also wake (debounced), so a burn shows within seconds, not a minute.
        _load_slo_dir(settings, session_factory)
        app.state.slo_evaluator = Evaluator()
        scheduler = Scheduler(session_factory) if settings.slo_scheduler else None
        app.state.scheduler = scheduler
        # Alerting (issue 5): a bad routing file stops the service with every problem listed.
        app.state.alert_runtime = start_alerting(settings, session_factory)

        def raise_alerts(session, evaluations) -> None:
            # Runs inside the evaluation's transaction, so alert state and its outbox rows
            # commit together with the evaluation that caused them.
            if not evaluations:
                return
            report = process_signals(session, signals_for(evaluations), evaluations[0].evaluated_at)
            if report.notified and scheduler is not None:
                scheduler.run_soon(DELIVERY_JOB, 0.2)

        app.state.slo_evaluator.listeners.append(raise_alerts)
        # Asked by the SLO API once a definition change commits.
        app.state.evaluate_soon = (lambda: scheduler.run_soon(SLO_JOB, 0.2)) if scheduler is not None else None

        def on_commit(received: int, stored: int, seconds: float) -> None:
            metrics.record_commit(received, stored, seconds)
            if stored and scheduler is not None:
                scheduler.run_soon(SLO_JOB, settings.slo_eval_debounce_seconds)

        app.state.event_store = EventStore(session_factory, on_commit=on_commit)
        writers = settings.ingest_writers or 1
        app.state.writer = GroupCommitWriter(app.state.event_store, settings.ingest_max_batch, writers)
        await app.state.writer.start()
        # Lineage (issue 3): load the graph and node caches in the background, so the first
        # blast radius is fast while readiness (/readyz) waits for nothing new.
        # Registered now, with this app's size limit, so no request can create it first
        # from the process-wide settings.
        install_lineage_cache(engine, settings.lineage_cache_max_edges)

        def warm_then_settle() -> None:
            warm_lineage_caches(session_factory, settings.lineage_cache_max_edges)
            settle_long_lived("loading the lineage caches")

        warming = asyncio.create_task(asyncio.to_thread(warm_then_settle))
        app.state.lineage_warming = warming
        if scheduler is not None:
            scheduler.add(ScheduledJob(SLO_JOB, _slo_job(app), settings.slo_eval_interval_seconds))
            scheduler.add(ScheduledJob("slo.history_retention", retention_job(settings.slo_history_retention_days),
                                       RETENTION_INTERVAL))
            for name, func, interval in alert_jobs(settings):
                scheduler.add(ScheduledJob(name, func, interval))
            scheduler.start()
            scheduler.run_soon(SLO_JOB, 1.0)
        try:
            yield
        finally:
            if scheduler is not None:
                scheduler.shutdown()
            app.state.alert_runtime.close()
            await app.state.writer.stop()
            await asyncio.wait({warming}, timeout=10)  # a thread cannot be cancelled
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
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

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
