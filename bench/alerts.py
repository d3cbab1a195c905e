"""Alert latency: from the SLO engine handing over a page to the receiver getting it.

    python -m bench.alerts                      # SQLite, 100 trials per mode
    python -m bench.alerts --trials 20 --postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/dataslo_bench

What is measured: a trial starts when a page `SloSignal` is handed to
`process_signals` (the incident and its outbox row are committed) and ends when a local
PagerDuty stand-in has received the request. Two modes:

- `interval`: delivery runs as a lease-guarded job of app/jobs.py's Scheduler at the
  default `alert_delivery_interval`, as in the service;
- `triggered`: the delivery job is run right after the commit (what the glue does
  after an evaluation that changed something).

The full path asked by the issue (from the HTTP response of the FAIL event that tips an
SLO into a page) adds the SLO evaluation in front: once the SLO wiring is committed,
that is the debounce (`slo_eval_debounce_seconds`) plus one evaluation pass plus what
is measured here.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from app.alerts.jobs import DELIVERY_JOB, deliver_notifications
from app.alerts.process import process_signals
from app.alerts.routing import load_routing
from app.alerts.runtime import AlertOptions, AlertRuntime, set_runtime
from app.alerts.signals import SloSignal
from app.jobs import ScheduledJob, Scheduler
from app.settings import Settings
from app.store.alert_models import Incident
from app.store.db import make_engine, make_session_factory
from app.store.leases import release
from app.store.migrate import upgrade

WORK = Path(__file__).resolve().parent / ".work"


class StandIn:
    """A PagerDuty stand-in that notes when each dedup key first arrived."""

    def __init__(self) -> None:
        self.arrivals: dict[tuple[str, str], float] = {}
        self.cond = threading.Condition()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                at = time.perf_counter()
                with stand_in.cond:
                    key = (body["dedup_key"], body["event_action"])
                    stand_in.arrivals.setdefault(key, at)
                    stand_in.cond.notify_all()
                data = b'{"status":"success"}'
                self.send_response(202)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def wait(self, key: tuple[str, str], timeout: float = 30.0) -> float:
        with self.cond:
            if not self.cond.wait_for(lambda: key in self.arrivals, timeout):
                raise TimeoutError(f"{key} never arrived")
            return self.arrivals[key]


def _signal(slo_id: int, severity: str | None) -> SloSignal:
    return SloSignal(
        slo_id=slo_id, slo_name=f"bench-{slo_id}", evaluated_at=datetime.now(UTC),
        active_severity=severity,  # type: ignore[arg-type]
        state="burning" if severity else "ok", target_kind="dataset",
        target_id=1_000_000 + slo_id, target_namespace="bench", target_name=f"t{slo_id}",
        labels={"team": "bench", "owner": "bench"}, burn_rates={"5m": 20, "1h": 20},
    )


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def run_mode(mode: str, url: str, trials: int, settings: Settings, log=print) -> dict:
    engine = make_engine(url)
    upgrade(engine)
    factory = make_session_factory(engine)
    stand_in = StandIn()
    runtime = AlertRuntime(
        routing=load_routing(f"""
receivers:
  - name: pd
    type: pagerduty
    url: {stand_in.url}/v2/enqueue
    routing_key: bench-routing-key
    rate_limit_per_minute: 100000
    rate_limit_burst: 1000
default:
  receivers: [pd]
"""),
        options=AlertOptions.from_settings(settings),
    )
    previous = set_runtime(runtime)
    scheduler = Scheduler(factory, holder=f"bench-{mode}")
    scheduler.add(ScheduledJob(DELIVERY_JOB, deliver_notifications,
                               settings.alert_delivery_interval))
    if mode == "interval":
        scheduler.start()
    latencies, resolve_latencies = [], []
    rng = random.Random(42)
    offset = {"interval": 0, "triggered": 100_000}[mode]
    try:
        for i in range(trials):
            slo = offset + i + 1
            for severity, bucket in (("page", latencies), (None, resolve_latencies)):
                started = time.perf_counter()
                with factory() as session:
                    process_signals(session, [_signal(slo, severity)], datetime.now(UTC))
                    session.commit()
                    dedup = session.scalar(select(Incident.dedup_key).where(
                        Incident.root_key == f"dataset:{1_000_000 + slo}"))
                if mode == "triggered":
                    threading.Thread(target=scheduler.run_once, args=(DELIVERY_JOB,)).start()
                action = "trigger" if severity else "resolve"
                bucket.append(stand_in.wait((dedup, action)) - started)
            # A random pause, so interval-mode trials start at every phase of the tick
            # instead of locking onto it.
            time.sleep(rng.uniform(0, settings.alert_delivery_interval))
    finally:
        scheduler.shutdown()
        with factory() as session:  # let the next mode's scheduler take the lease at once
            release(session, f"job:{DELIVERY_JOB}", scheduler.holder)
            session.commit()
        set_runtime(previous)
        runtime.close()
        stand_in.server.shutdown()
        engine.dispose()

    def summary(values: list[float]) -> dict:
        return {"p50_ms": round(statistics.median(values) * 1000, 1),
                "p99_ms": round(_percentile(values, 0.99) * 1000, 1),
                "max_ms": round(max(values) * 1000, 1)}

    result = {"trials": trials, "page": summary(latencies), "resolve": summary(resolve_latencies)}
    log(f"  {mode:9s} page    p50 {result['page']['p50_ms']:7.1f} ms  "
        f"p99 {result['page']['p99_ms']:7.1f} ms  max {result['page']['max_ms']:7.1f} ms")
    log(f"  {mode:9s} resolve p50 {result['resolve']['p50_ms']:7.1f} ms  "
        f"p99 {result['resolve']['p99_ms']:7.1f} ms")
    return result


def _reset_postgres(url: str) -> None:
    parsed = make_url(url)
    name = parsed.database
    if not name or name in ("postgres", "template0", "template1"):
        raise SystemExit("--postgres-url must name a database the benchmark may drop")
    admin = create_engine(parsed.set(drivername="postgresql+psycopg", database="postgres"),
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.alerts", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--postgres-url",
                        help="PostgreSQL database to drop, recreate and use (default: SQLite)")
    parser.add_argument("--out", help="JSON results file (default bench/.work/alerts-<time>.json)")
    args = parser.parse_args(argv)
    if args.postgres_url:
        _reset_postgres(args.postgres_url)
    settings = Settings()
    results: dict[str, Any] = {"started_at": datetime.now(UTC).isoformat(timespec="seconds"),
                               "delivery_interval_s": settings.alert_delivery_interval,
                               "path": "SloSignal handed over -> receiver got the request"}
    print(f"alert latency, signal -> receiver, {args.trials} trials per mode "
          f"(delivery job every {settings.alert_delivery_interval} s)")
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        for mode, target in (("interval", 5.0), ("triggered", 1.0)):
            url = args.postgres_url or f"sqlite:///{tmp}/{mode}.db"
            result = run_mode(mode, url, args.trials, settings)
            result["target_p99_s"] = target
            result["pass"] = result["page"]["p99_ms"] < target * 1000
            failed |= not result["pass"]
            print(f"  {mode:9s} {'PASS' if result['pass'] else 'FAIL'} (target p99 < {target} s)")
            results[mode] = result
    WORK.mkdir(parents=True, exist_ok=True)
    out = args.out or str(WORK / f"alerts-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json")
    Path(out).write_text(json.dumps(results, indent=2))
    print(f"results: {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
