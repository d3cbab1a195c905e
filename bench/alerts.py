"""End-to-end alert latency: from the FAIL event's HTTP response to the receiver's request.

    python -m bench.alerts                                  # SQLite, 100 trials per mode
    python -m bench.alerts --postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/dataslo_bench

What runs: the real service (`uvicorn --factory app.main:create_app` on a free loopback
port, scheduler on) and, in this process, a PagerDuty stand-in (an HTTP server on
loopback) that the routing file points at. Each mode gets a fresh database and a fresh
service.

Set-up, per mode: one success-rate SLO per trial (objective 99%, `min_events: 1`, the
default alert rows), each on its own job, created through `POST /api/v1/slos`; each job
gets a COMPLETE run and then a second run that is left RUNNING; the benchmark waits
until every SLO has been evaluated `ok` and no evaluation is pending.

A trial: POST the FAIL event of one job's running run; its clock starts when that HTTP
response (201) arrives and stops when the stand-in receives the PagerDuty `trigger`
naming the trial's SLO. Trials start one after another at random gaps (uniform, mean
`--spacing` s), so they land at every phase of the scheduler's ticks and of the minute,
without waiting for each other: a trial's latency can be up to a minute (see below),
and 100 of them in a row would take over an hour. The FAIL events are the only events
sent meanwhile.

Modes (targets from issue 5):
- `default`: every setting at its default (evaluation debounce 2 s, delivery every 1 s,
  evaluation every 60 s). Target p99 < 5 s.
- `triggered`: evaluation triggered right after the event, i.e. the service started with
  `DATASLO_SLO_EVAL_DEBOUNCE_SECONDS=0`; nothing else changed. Target p99 < 1 s.

Each mode also splits the span in two, from the incidents the service recorded: FAIL
response -> start of the evaluation pass that opened the incident, and pass start ->
receiver (the pass itself, alerting, delivery).

The success-rate SLO counts the FAIL in the first pass after it: windows of occurrence
SLIs end at the evaluation instant, with the current minute (`app.slo.engine.clock`).
The pass can start before the client has read the FAIL's response (it is asked for at
commit), so the first part can be slightly negative in the triggered mode.

Exit status: 0 when every mode met its target, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from bench.harness import (
    WORK,
    app_digest,
    migrate,
    reset_postgres,
    reset_sqlite,
    service_env,
    start_server,
)

PRODUCER = "https://github.com/dataslo/bench-alerts"
SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
NAMESPACE = "bench-alerts"
MODES: dict[str, tuple[dict[str, str], float]] = {
    # mode -> (service environment on top of the defaults, p99 target in seconds)
    "default": ({}, 5.0),
    "triggered": ({"DATASLO_SLO_EVAL_DEBOUNCE_SECONDS": "0"}, 1.0),
}


class Receiver:
    """A PagerDuty stand-in noting when each trigger arrived (time.perf_counter)."""

    def __init__(self) -> None:
        # (time.perf_counter(), time.time(), body) of every request
        self.arrivals: list[tuple[float, float, str]] = []
        self.cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out as two writes; with Nagle on, the body waits for the
            # client's delayed ACK (~40 ms per request), which no real vendor makes us wait.
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                at, wall = time.perf_counter(), time.time()
                with receiver.cond:
                    receiver.arrivals.append((at, wall, raw.decode()))
                    receiver.cond.notify_all()
                data = b'{"status":"success","message":"Event processed"}'
                self.send_response(202)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def wait_trigger(self, name: str, timeout: float) -> tuple[float, float]:
        """(perf_counter, wall clock) arrival of the first trigger naming `name` (the SLO)."""

        def found() -> tuple[float, float] | None:
            for at, wall, raw in self.arrivals:
                if name in raw and json.loads(raw).get("event_action") == "trigger":
                    return at, wall
            return None

        with self.cond:
            if not self.cond.wait_for(lambda: found() is not None, timeout):
                raise TimeoutError(f"no trigger for {name} within {timeout} s")
            return found()  # type: ignore[return-value]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def _event(kind: str, run_id: str, job: str, at: datetime) -> dict[str, Any]:
    return {"eventType": kind, "eventTime": at.isoformat().replace("+00:00", "Z"),
            "producer": PRODUCER, "schemaURL": SCHEMA_URL, "run": {"runId": run_id},
            "job": {"namespace": NAMESPACE, "name": job}, "inputs": [], "outputs": []}


def _slo(name: str, job: str) -> dict[str, Any]:
    return {"name": name, "owner": "bench", "sli": {"kind": "success_rate"},
            "target": {"job": {"namespace": NAMESPACE, "name": job}},
            "objective": 0.99, "min_events": 1}


def _percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (p99 of 100 trials is the second slowest)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _summary(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(statistics.median(values) * 1000, 1),
            "p99_ms": round(_percentile(values, 0.99) * 1000, 1)}


def _incident_starts(api: httpx.Client, names: list[str]) -> dict[str, float]:
    """Epoch seconds at which each SLO's incident was opened (its title names the SLO)."""
    listing = api.get("/api/v1/incidents", params={"limit": 1000}).json()["incidents"]
    out = {}
    for incident in listing:
        found = re.match(r"SLO (\S+) is burning", incident["title"])
        if found and found.group(1) in names:
            out[found.group(1)] = datetime.fromisoformat(incident["started_at"]).timestamp()
    missing = set(names) - set(out)
    if missing:
        raise RuntimeError(f"no incident found for {sorted(missing)[:5]}")
    return out


def _wait(predicate, timeout: float, what: str, step: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(step)


def _set_up(api: httpx.Client, mode: str, trials: int) -> list[tuple[str, str, str]]:
    """SLOs and runs of every trial: [(job, slo name, running run id)]."""
    now = datetime.now(UTC)
    plan, events = [], []
    for i in range(trials):
        job, name = f"lat_{mode}_{i:04d}", f"lat-{mode}-{i:04d}"
        created = api.post("/api/v1/slos", json=_slo(name, job))
        created.raise_for_status()
        done, running = str(uuid.uuid4()), str(uuid.uuid4())
        events += [_event("START", done, job, now - timedelta(seconds=60)),
                   _event("COMPLETE", done, job, now - timedelta(seconds=50)),
                   _event("START", running, job, now - timedelta(seconds=40))]
        plan.append((job, name, running))
    stored = api.post("/api/v1/lineage/batch", json=events)
    stored.raise_for_status()
    assert stored.json()["status"] == "success", stored.text

    def all_ok() -> bool:
        listing = api.get("/api/v1/slos", params={"status": "ok", "limit": 1000}).json()
        return listing["totalCount"] == trials

    _wait(all_ok, 180, "the SLOs were never all evaluated ok")
    time.sleep(3)  # past the debounce of the last set-up event: no evaluation pending
    return plan


def run_mode(mode: str, database_url: str, trials: int, seed: int, spacing: float,
             log=print) -> dict[str, Any]:
    extra_env, target = MODES[mode]
    receiver = Receiver()
    routes = WORK / f"alerts-routes-{mode}.yaml"
    routes.write_text(f"""receivers:
  - name: pd
    type: pagerduty
    url: {receiver.url}/v2/enqueue
    routing_key: bench-routing-key
    rate_limit_per_minute: 100000
    rate_limit_burst: 1000
default:
  receivers: [pd]
""")
    migrate(database_url)
    env = service_env(database_url, DATASLO_ALERT_ROUTES_FILE=str(routes), **extra_env)
    env["DATASLO_AUTH"] = "auto"  # loopback, no token: the admin API works without one
    code = app_digest()
    server = start_server(f"alerts-{mode}", "app.main:create_app", env=env)
    rng = random.Random(seed)
    latencies: list[float] = []
    to_pass: list[float] = []
    pass_to_receiver: list[float] = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=30) as api:
            plan = _set_up(api, mode, trials)
            log(f"  {mode}: {trials} SLOs evaluated ok; trials start")
            started: dict[str, tuple[float, float]] = {}
            for job, name, run_id in plan:
                time.sleep(rng.uniform(0, 2 * spacing))
                response = api.post("/api/v1/lineage",
                                    json=_event("FAIL", run_id, job, datetime.now(UTC)))
                started[name] = (time.perf_counter(), time.time())
                if response.status_code != 201:
                    raise RuntimeError(f"FAIL event refused: {response.status_code} {response.text}")
            arrived = {name: receiver.wait_trigger(name, timeout=180) for name in started}
            latencies = [arrived[n][0] - started[n][0] for n in started]
            # Where the time goes: the incident's start is the `now` of the evaluation pass
            # that opened it (service clock, same machine as this one).
            opened_at = _incident_starts(api, list(started))
            to_pass = [opened_at[n] - started[n][1] for n in started]
            pass_to_receiver = [arrived[n][1] - opened_at[n] for n in started]
    finally:
        server.stop()
        receiver.close()

    result = {
        "trials": trials, "spacing_s": spacing, "target_p99_s": target, "service_env": extra_env, "app_digest": code,
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(_percentile(latencies, 0.99) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
        "min_ms": round(min(latencies) * 1000, 1),
        "latencies_ms": [round(v * 1000, 1) for v in latencies],
        "fail_to_evaluation_pass": _summary(to_pass),
        "evaluation_pass_to_receiver": _summary(pass_to_receiver),
    }
    result["pass"] = result["p99_ms"] < target * 1000
    for part in ("fail_to_evaluation_pass", "evaluation_pass_to_receiver"):
        log(f"    {part:28s} p50 {result[part]['p50_ms']:8.1f} ms  "
            f"p99 {result[part]['p99_ms']:8.1f} ms")
    log(f"  {mode:9s} p50 {result['p50_ms']:7.1f} ms  p99 {result['p99_ms']:7.1f} ms  "
        f"max {result['max_ms']:7.1f} ms  {'PASS' if result['pass'] else 'FAIL'} "
        f"(target p99 < {target} s)")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.alerts", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--modes", default=",".join(MODES),
                        help=f"comma-separated, from {', '.join(MODES)}")
    parser.add_argument("--postgres-url",
                        help="PostgreSQL database to drop, recreate and use (default: SQLite)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--spacing", type=float, default=1.0,
                        help="mean gap between two trials' FAIL events, seconds")
    parser.add_argument("--out", help="JSON results file (default bench/.work/alerts-<time>.json)")
    args = parser.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # progress shows in a log file as it happens
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        parser.error(f"unknown mode(s): {', '.join(unknown)}")
    store = "postgresql" if args.postgres_url else "sqlite"
    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"), "store": store,
        "path": "HTTP response of the FAIL event -> receiver got the PagerDuty trigger",
    }
    print(f"alert latency on {store}, FAIL response -> receiver, {args.trials} trials per mode",
          flush=True)
    failed = False
    for mode in modes:
        url = reset_postgres(args.postgres_url) if args.postgres_url else reset_sqlite(f"alerts-{mode}")
        result = run_mode(mode, url, args.trials, args.seed, args.spacing)
        failed |= not result["pass"]
        results[mode] = result
    WORK.mkdir(parents=True, exist_ok=True)
    out = args.out or str(WORK / f"alerts-{store}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json")
    Path(out).write_text(json.dumps(results, indent=2))
    print(f"results: {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
