"""Fixtures of the alerting tests: real HTTP servers on loopback standing in for vendors,
the service with its lifespan, and the steps most incident tests repeat.

`server` records every request exactly as it arrived (method, raw path with query,
headers, body bytes) and answers from a script of responses, so receiver tests can
assert both what we sent and how we classify what came back. `vendor` is the
multi-vendor stand-in of alerting_support.py that incident and delivery tests use.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from alerting_support import LABELS, LINKS, NOW, STARTED, SUMMARY, TITLE, Vendor
from fastapi.testclient import TestClient

from app.alerts.receivers import Action, ImpactedAsset, Link, Notification, Severity
from app.main import create_app


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class StubServer:
    """A vendor stand-in: records requests, answers with queued replies (default 200)."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self._replies: list[Reply] = []
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with stub._lock:
                    stub.requests.append(
                        Recorded(
                            "POST",
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                        )
                    )
                    reply = stub._replies.pop(0) if stub._replies else Reply()
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    # The client gave up first (the timeout test); nothing to answer.
                    self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                """Silence per-request stderr lines."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"

    def reply(
        self, status: int, body: bytes | str = b"", *, delay: float = 0.0, **headers: str
    ) -> None:
        """Queue the answer to the next request (after `delay` seconds)."""
        data = body.encode() if isinstance(body, str) else body
        with self._lock:
            self._replies.append(Reply(status, data, headers, delay))

    @property
    def last(self) -> Recorded:
        assert self.requests, "the server received no request"
        return self.requests[-1]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def server() -> Iterator[StubServer]:
    stub = StubServer()
    yield stub
    stub.close()


@pytest.fixture
def refused_url() -> str:
    """A loopback URL nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def tls_context() -> ssl.SSLContext:
    """Built once: loading the CA bundle for every test's client is the slowest part."""
    return ssl.create_default_context()


@pytest.fixture
def client(tls_context: ssl.SSLContext) -> Iterator[httpx.Client]:
    # A fresh client per test so no pooled connection outlives its stand-in server.
    with httpx.Client(timeout=5.0, verify=tls_context) as c:
        yield c


@pytest.fixture
def clock() -> Callable[[], datetime]:
    return lambda: NOW


@pytest.fixture
def make_notification() -> Callable[..., Notification]:
    """A fully populated page for the orders-freshness SLO; override any field."""

    def make(**overrides: Any) -> Notification:
        fields: dict[str, Any] = {
            "dedup_key": "slo:orders-freshness:page",
            "idempotency_key": "outbox-42",
            "action": Action.TRIGGER,
            "severity": Severity.PAGE,
            "title": TITLE,
            "summary": SUMMARY,
            "slo": "orders-freshness",
            "kind": "slo_burn",
            "labels": dict(LABELS),
            "burn_rates": {"1h": 20.0, "5m": 20.0},
            "budget_remaining": 0.9722,
            "root_cause": "job etl.load_orders failed at 10:58",
            "impacted": (
                ImpactedAsset("warehouse.orders", "alice", "orders-freshness"),
                ImpactedAsset("bi.revenue_daily", "bob"),
            ),
            "links": tuple(Link(link["href"], link["text"]) for link in LINKS),
            "started_at": STARTED,
            "incident_id": "inc-7",
        }
        fields.update(overrides)
        return Notification(**fields)

    return make


@pytest.fixture
def vendor() -> Iterator[Vendor]:
    v = Vendor()
    yield v
    v.stop()


@pytest.fixture
def api(app_settings) -> Iterator[TestClient]:
    """The service with its lifespan (group-commit writer up), scheduled work off."""
    with TestClient(create_app(app_settings)) as c:
        yield c
