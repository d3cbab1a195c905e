"""OpenLineage ingestion endpoints, wire-compatible with Marquez and the OpenLineage spec.

The body is read by hand rather than through a pydantic parameter: we must tell a
malformed gzip stream (400) from malformed JSON (400), an oversized body (413) and a
wrong content type (415) before validating, and never answer 500 for any input.
"""

from __future__ import annotations

import zlib
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from app.api.deps import IngestScope
from app.errors import MalformedBody, PayloadTooLarge, ServiceUnavailable, UnsupportedMediaType
from app.ingest.schema import EventError, ParsedEvent, parse_event
from app.ingest.writer import StoreUnavailable

router = APIRouter(prefix="/api/v1", tags=["ingest"])


def _check_content_type(request: Request) -> None:
    content_type = request.headers.get("content-type")
    if content_type is None:
        return  # curl without -H and some clients omit it; the body decides
    media = content_type.split(";", 1)[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise UnsupportedMediaType(f"expected Content-Type application/json, got '{media}'")


async def _read_body(request: Request) -> bytes:
    limit = request.app.state.settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body exceeds {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body exceeds {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = (request.headers.get("content-encoding") or "identity").strip().lower()
    if encoding in ("gzip", "x-gzip"):
        inflater = zlib.decompressobj(wbits=31)
        try:
            body = inflater.decompress(body, limit + 1)
        except zlib.error as exc:
            raise MalformedBody(f"invalid gzip stream: {exc}") from None
        if len(body) > limit or inflater.unconsumed_tail:
            raise PayloadTooLarge(f"decompressed body exceeds {limit} bytes")
        if not inflater.eof:
            raise MalformedBody("invalid gzip stream: truncated")
    elif encoding != "identity":
        raise UnsupportedMediaType(f"unsupported Content-Encoding '{encoding}' (use gzip or none)")
    return body


async def _json_body(request: Request) -> Any:
    _check_content_type(request)
    body = await _read_body(request)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedBody(f"malformed JSON: {exc}") from None


async def _submit(request: Request, events: list[ParsedEvent]) -> list[bool]:
    try:
        return await request.app.state.writer.submit(events)
    except StoreUnavailable as exc:
        raise ServiceUnavailable(str(exc)) from None


@router.post("/lineage", status_code=201, dependencies=[IngestScope],
             summary="Send one OpenLineage event (RunEvent, DatasetEvent or JobEvent)")
async def post_lineage(request: Request) -> Response:
    raw = await _json_body(request)
    try:
        parsed = parse_event(raw)
    except EventError as exc:
        return JSONResponse(
            {"error": "invalid_event", "message": "the event failed validation", "detail": exc.problems},
            status_code=422,
        )
    await _submit(request, [parsed])
    return Response(status_code=201)


@router.post("/lineage/batch", dependencies=[IngestScope],
             summary="Send a batch of OpenLineage events; each is accepted or rejected on its own")
async def post_lineage_batch(request: Request) -> JSONResponse:
    raw = await _json_body(request)
    if not isinstance(raw, list):
        raise MalformedBody("a batch must be a JSON array of events")
    max_events = request.app.state.settings.batch_max_events
    if len(raw) > max_events:
        raise PayloadTooLarge(f"a batch holds at most {max_events} events; got {len(raw)}")
    failed: list[dict[str, Any]] = []
    accepted: list[tuple[int, ParsedEvent]] = []
    for index, item in enumerate(raw):
        try:
            accepted.append((index, parse_event(item)))
        except EventError as exc:
            failed.append({"index": index, "reason": str(exc), "retriable": False})
    if accepted:
        try:
            await request.app.state.writer.submit([p for _, p in accepted])
        except StoreUnavailable:
            failed.extend(
                {"index": i, "reason": "Server error: the event store is unavailable", "retriable": True}
                for i, _ in accepted
            )
    failed.sort(key=lambda f: f["index"])
    retriable = sum(1 for f in failed if f["retriable"])
    body = {
        "status": "partial_success" if failed else "success",
        "summary": {
            "received": len(raw),
            "successful": len(raw) - len(failed),
            "failed": len(failed),
            "retriable": retriable,
            "non_retriable": len(failed) - retriable,
        },
        "failed_events": failed,
    }
    status = 503 if failed and retriable == len(raw) else 200
    return JSONResponse(body, status_code=status)
