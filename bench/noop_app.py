"""The baseline: a FastAPI app that accepts the same request as POST /api/v1/lineage,
parses the JSON body and answers 201, and stores nothing.

Served exactly like the real service (`python -m uvicorn --factory bench.noop_app:create_app`,
same worker count, host and flags), so the ratio real/no-op isolates what validation,
group commit and the database cost, not FastAPI or HTTP.
"""

from __future__ import annotations

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse


def batch_answer(received: int, stored: int) -> JSONResponse:
    """The batch endpoint's answer, shaped like dataslo's (the load generator reads it)."""
    return JSONResponse({"status": "success" if stored == received else "partial_success",
                         "summary": {"received": received, "successful": stored, "failed": received - stored},
                         "failed_events": []})


def create_app() -> FastAPI:
    app = FastAPI(title="dataslo-bench-noop")

    @app.post("/api/v1/lineage", status_code=201)
    async def post_lineage(request: Request) -> Response:
        try:
            orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return JSONResponse({"error": "malformed_body"}, status_code=400)
        return Response(status_code=201)

    @app.post("/api/v1/lineage/batch")
    async def post_lineage_batch(request: Request) -> JSONResponse:
        events = orjson.loads(await request.body())
        n = len(events) if isinstance(events, list) else 0
        return batch_answer(n, n)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
