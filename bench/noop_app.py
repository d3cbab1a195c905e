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
        return JSONResponse({"status": "success", "summary": {"received": n, "successful": n, "failed": 0},
                             "failed_events": []})

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
