"""Helpers for the incident, routing and delivery tests (imported by module name).

`Vendor` is a real HTTP server on loopback standing in for PagerDuty, Slack, Opsgenie,
Alertmanager and webhooks at once (by path). It can be stopped and started again on
the same port, which is what a receiver outage looks like from our side: connection
refused, then a recovery.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from factories import PRODUCER, T0, dataset, new_run_id, run_event
from sqlalchemy import select

from app.alerts.routing import load_routing
from app.alerts.runtime import AlertOptions, AlertRuntime
from app.slo.signals import SloSignal
from app.store.models import Dataset, Job

# The notification the receiver tests render (conftest's `make_notification`, `clock`).
NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
STARTED = datetime(2024, 5, 1, 11, 0, 0, tzinfo=UTC)
ENDED = datetime(2024, 5, 1, 11, 45, 0, tzinfo=UTC)
TITLE = "orders-freshness is burning its error budget 20x too fast"
SUMMARY = "2% of orders runs failed in the last hour."
LABELS = {"owner": "alice", "team": "payments", "tier": "1", "namespace": "prod"}
LINKS = [{"href": "https://dataslo.example/slo/orders-freshness", "text": "SLO"}]


def json_body(recorded: Any) -> Any:
    """The JSON body of a request a stand-in recorded, after checking its content type."""
    assert recorded.headers["content-type"] == "application/json"
    return json.loads(recorded.body)


SUCCESS = {
    "/v2/enqueue": (202, '{"status":"success","message":"Event processed"}'),
    "/slack/hook": (200, "ok"),
    "/api/v2/alerts": (200, ""),
    "/v2/alerts": (202, '{"result":"Request will be processed","requestId":"r1"}'),
}


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic() on arrival

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Vendor:
    """Records every request; answers from `script` (one reply per request) or success."""

    port: int = 0
    requests: list[Request] = field(default_factory=list)
    script: list[tuple[int, str, dict[str, str]]] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)
    # Seconds to wait before answering (after recording): a slow receiver.
    delay: float = 0.0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.start()

    def start(self) -> None:
        vendor = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out as two writes; with Nagle on, the body waits for the
            # client's delayed ACK (~40 ms per request), which no real vendor makes us wait.
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with vendor._lock:
                    vendor.requests.append(Request(
                        self.path, {k.lower(): v for k, v in self.headers.items()}, body,
                        time.monotonic()))
                    status, text, headers = (vendor.script.pop(0) if vendor.script
                                             else (*SUCCESS.get(self.path.split("?")[0],
                                                                (200, "")), {}))
                vendor.arrived.set()
                if vendor.delay:
                    time.sleep(vendor.delay)
                data = text.encode()
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client died waiting (restart test)

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True).start()

    def stop(self) -> None:
        """Close the port: clients now get connection refused."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def bodies(self, path: str | None = None) -> list[Any]:
        with self._lock:
            return [r.json for r in self.requests if path is None or r.path.startswith(path)]

    def reply(self, status: int, text: str = "", **headers: str) -> None:
        with self._lock:
            self.script.append((status, text, headers))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def routing_yaml(url: str, *, extra: str = "", routes: str | None = None) -> str:
    """PagerDuty for pages, Slack for everything, a signed webhook, all on `url`."""
    return f"""
receivers:
  - name: pd
    type: pagerduty
    url: {url}/v2/enqueue
    routing_key: pd-routing-key-1
    rate_limit_per_minute: 60000
    rate_limit_burst: 100
  - name: slack
    type: slack
    webhook_url: {url}/slack/hook
    rate_limit_per_minute: 60000
    rate_limit_burst: 100
  - name: hook
    type: webhook
    url: {url}/hook
    secret: hook-secret-123
{extra}
routes:
{routes if routes is not None else '''  - name: pages
    match: {severity: page}
    receivers: [pd, slack]
    repeat_interval: 30m
'''}
default:
  receivers: [slack]
"""


def make_runtime(yaml_text: str, **options: Any) -> AlertRuntime:
    defaults = {"retry_base": 1.0, "retry_cap": 60.0, "base_url": "http://dataslo.test"}
    return AlertRuntime(routing=load_routing(yaml_text),
                        options=AlertOptions(**{**defaults, **options}))


def signal(slo_id: int, name: str, target_id: int, severity: str | None, at: datetime, *,
           target: str = "mart", kind: str = "dataset", owner: str = "alice",
           team: str = "data", burn: float = 20.0) -> SloSignal:
    return SloSignal(
        slo_id=slo_id, slo_name=name, evaluated_at=at, active_severity=severity,  # type: ignore[arg-type]
        state="burning" if severity else "ok", target_kind=kind, target_id=target_id,  # type: ignore[arg-type]
        target_namespace="warehouse", target_name=target,
        labels={"owner": owner, "team": team, "tier": "1", "namespace": "warehouse",
                "slo": name},
        burn_rates={"5m": burn, "1h": burn} if severity else {"5m": 0.0, "1h": 0.0},
        budget_remaining=None, conditions=["page:1h/5m"] if severity == "page" else [],
    )


def owned(name: str, owner: str, **kw: Any) -> dict:
    facets = {"ownership": {"_producer": PRODUCER, "_schemaURL": "x",
                            "owners": [{"name": owner, "type": "MAINTAINER"}]}}
    return dataset(name, facets=facets, **kw)


def post(api: Any, event: dict) -> None:
    response = api.post("/api/v1/lineage", json=event)
    assert response.status_code == 201, response.text


def build_fanout(api: Any, n: int, at: float = 0) -> None:
    """load_raw writes raw; build_i reads raw and writes mart_i (owned by owner_i)."""
    run = new_run_id()
    post(api, run_event("START", run, "load_raw", at=at, outputs=[owned("raw", "ingest-team")]))
    post(api, run_event("COMPLETE", run, "load_raw", at=at + 1, outputs=[dataset("raw")]))
    events = []
    for i in range(n):
        r = new_run_id()
        events.append(run_event("COMPLETE", r, f"build_{i}", at=at + 2, inputs=[dataset("raw")],
                                outputs=[owned(f"mart_{i}", f"owner_{i}")]))
    response = api.post("/api/v1/lineage/batch", json=events)
    assert response.status_code == 200 and response.json()["status"] == "success", response.text


def fail_job(api: Any, job: str, at: float) -> None:
    run = new_run_id()
    post(api, run_event("START", run, job, at=at))
    post(api, run_event("FAIL", run, job, at=at + 0.5))


def complete_job(api: Any, job: str, at: float, outputs: list | None = None) -> None:
    run = new_run_id()
    post(api, run_event("START", run, job, at=at))
    post(api, run_event("COMPLETE", run, job, at=at + 0.5, outputs=outputs or []))


def dataset_ids(session: Any) -> dict[str, int]:
    return {d.name: d.id for d in session.scalars(select(Dataset))}


def job_ids(session: Any) -> dict[str, int]:
    return {j.name: j.id for j in session.scalars(select(Job))}


def minutes(m: float) -> datetime:
    return T0 + timedelta(minutes=m)


ORDERS_BEFORE = [("id", "int"), ("amount", "int"), ("note", "string")]
ORDERS_AFTER = [("id", "int"), ("amount", "decimal(10,2)"), ("added", "string")]


def breaking_orders_change(api: Any, detect: Any, consumers: dict[str, str]) -> list[int]:
    """load_orders writes `orders` (read by each consumer job, which writes a dataset owned
    by the given owner), a baseline detection, then a version that removes `note` and
    retypes `amount` at minute 60; returns what `detect()` opened after that."""
    post(api, run_event("COMPLETE", new_run_id(), "load_orders", at=0,
                        outputs=[dataset("orders", fields=ORDERS_BEFORE)]))
    for job, owner in consumers.items():
        post(api, run_event("COMPLETE", new_run_id(), job, at=1, inputs=[dataset("orders")],
                            outputs=[owned(f"{job}_out", owner)]))
    assert detect() == []  # first run: the baseline
    post(api, run_event("COMPLETE", new_run_id(), "load_orders", at=60,
                        outputs=[dataset("orders", fields=ORDERS_AFTER)]))
    return detect()
