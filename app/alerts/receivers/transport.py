"""One HTTP attempt and its classification, shared by every receiver.

All receivers agree on what an outcome means for the delivery worker: 2xx is
delivered; 429, 5xx and network failures are worth retrying; any other 4xx is
permanent because the same payload will be rejected again. Keeping that rule
in one place is what makes the worker's retry policy receiver-agnostic.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from app.alerts.receivers.model import DeliveryResult
from app.alerts.receivers.secrets import redact

log = logging.getLogger("app.alerts.receivers")

USER_AGENT = "dataslo-alerts/1"
_ERROR_BODY_LIMIT = 500

# Transport errors that say the request itself can never work (bad scheme,
# bad URL, a request httpx refuses to encode): retrying only delays the queue.
_PERMANENT_TRANSPORT = (httpx.UnsupportedProtocol, httpx.LocalProtocolError)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay-seconds or HTTP-date).

    Returns None for a missing or unparseable header so callers fall back to
    their own backoff instead of trusting garbage; a date in the past is 0.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


def is_retryable_status(status: int) -> bool:
    return status == 429 or status >= 500


def encode_json(body: Any) -> bytes:
    """Compact, deterministic JSON: the bytes we sign are the bytes we send."""
    return json.dumps(body, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def _error_text(response: httpx.Response) -> str:
    # httpx decodes with errors="replace", so an odd charset cannot raise here.
    text = " ".join(response.text.split())[:_ERROR_BODY_LIMIT]
    return f"HTTP {response.status_code}" + (f": {text}" if text else "")


def send_request(
    client: httpx.Client,
    receiver: str,
    url: str,
    *,
    content: bytes,
    headers: Mapping[str, str],
    remote_id: Callable[[httpx.Response], str | None] | None = None,
    now: Callable[[], datetime] | None = None,
) -> DeliveryResult:
    """POST `content` once and turn whatever happens into a `DeliveryResult`.

    Never raises for delivery problems: the worker must record every attempt,
    and an exception escaping here would lose the audit entry. `receiver` is
    a name for log lines only; the URL is never logged because for Slack it
    is the credential.
    """
    all_headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers}
    started = time.perf_counter()
    try:
        response = client.post(url, content=content, headers=all_headers)
    except httpx.HTTPError as exc:
        latency = time.perf_counter() - started
        retryable = isinstance(exc, httpx.TransportError) and not isinstance(
            exc, _PERMANENT_TRANSPORT
        )
        error = redact(f"{type(exc).__name__}: {exc}".strip())
        log.warning("receiver %s: %s (retryable=%s)", receiver, error, retryable)
        return DeliveryResult.failed(retryable=retryable, error=error, latency=latency)
    except httpx.InvalidURL as exc:
        error = redact(f"InvalidURL: {exc}")
        log.warning("receiver %s: %s", receiver, error)
        return DeliveryResult.failed(retryable=False, error=error)
    latency = time.perf_counter() - started
    status = response.status_code
    if 200 <= status < 300:
        rid = remote_id(response) if remote_id else None
        log.info("receiver %s: delivered, HTTP %s in %.3fs", receiver, status, latency)
        return DeliveryResult.delivered(status_code=status, latency=latency, remote_id=rid)
    retryable = is_retryable_status(status)
    retry_after = parse_retry_after(response.headers.get("Retry-After"), now() if now else None)
    error = redact(_error_text(response))
    log.warning("receiver %s: %s (retryable=%s)", receiver, error, retryable)
    return DeliveryResult.failed(
        retryable=retryable,
        error=error,
        latency=latency,
        status_code=status,
        retry_after=retry_after,
    )


def json_field(name: str) -> Callable[[httpx.Response], str | None]:
    """Extract a string field from a JSON response, tolerating any other body."""

    def extract(response: httpx.Response) -> str | None:
        try:
            data = response.json()
        except ValueError:
            return None
        value = data.get(name) if isinstance(data, dict) else None
        return str(value) if value is not None else None

    return extract


def truncate(text: str, limit: int) -> str:
    """Cut to `limit` characters, marking the cut so readers know text is missing."""
    if len(text) <= limit:
        return text
    return text[: limit - 1] + "…"
