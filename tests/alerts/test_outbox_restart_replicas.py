"""Restart and two replicas, with real processes (tests/alerts/alert_worker.py).

- Restart: a replica is killed (SIGKILL) while it delivers; a new process finishes the
  job. Every notification arrives; the only one that may arrive twice is the one whose
  request was in flight at the kill, and it carries the same idempotency key both times.
- Two replicas on one PostgreSQL: with a healthy lease only one of them ever works; when
  the lease is lost mid-pass (a pass slower than the lease), both work at once and still
  no notification is sent twice, because each row is claimed before it is sent.
"""

from __future__ import annotations

import json
import os
import signal as signals
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from alerting_support import make_runtime, minutes, routing_yaml
from sqlalchemy import func, select

from app.alerts.lifecycle import open_incident
from app.alerts.process import process_signals
from app.store.alert_models import Incident, OutboxNotification
from app.store.types import utcnow

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("alert_worker.py")
HOOK_ONLY = "  - {receivers: [hook]}\n"


def _queue(session, rt, n, first=1):
    for i in range(first, first + n):
        open_incident(session, rt, kind="slo_burn", root_key=f"dataset:{i}",
                      severity="page", title=f"SLO s{i} burning", now=utcnow(),
                      root_cause={}, labels={"slo": f"s{i}"})
    session.commit()
    return session.scalars(select(OutboxNotification.idempotency_key)).all()


def _start(db_url, routes, holder, log, *extra):
    return subprocess.Popen(
        [sys.executable, str(WORKER), db_url, str(routes), holder, str(log), *extra],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait(proc, timeout=60):
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError(f"worker did not finish:\n{out[-3000:]}") from None
    assert proc.returncode == 0, out[-3000:]


def _keys(vendor):
    return Counter(r.headers["idempotency-key"] for r in vendor.requests if r.path == "/hook")


def _ticks(log):
    return [json.loads(line) for line in Path(log).read_text().splitlines()]


def test_restart_mid_delivery_loses_nothing_and_sends_nothing_twice(db_url, session, vendor,
                                                                     tmp_path):
    routes = tmp_path / "routes.yaml"
    routes.write_text(routing_yaml(vendor.url, routes=HOOK_ONLY))
    rt = make_runtime(routes.read_text())
    keys = _queue(session, rt, 12)
    vendor.delay = 0.15
    first = _start(db_url, routes, "replica-a", tmp_path / "a.log", "--ttl", "1")
    deadline = time.monotonic() + 30
    while len(vendor.requests) < 4:
        assert time.monotonic() < deadline and first.poll() is None, "worker A made no progress"
        time.sleep(0.01)
    first.send_signal(signals.SIGKILL)
    first.wait(timeout=10)
    session.expire_all()
    in_doubt = set(session.scalars(select(OutboxNotification.idempotency_key).where(
        OutboxNotification.status == "sending")))
    delivered_before = session.scalar(select(func.count()).where(
        OutboxNotification.status == "delivered"))
    assert 0 < delivered_before < 12 and len(in_doubt) <= 1

    # The evaluation after a restart sees the same state: it must not open or send more.
    assert session.scalar(select(func.count()).select_from(Incident)) == 12

    vendor.delay = 0.0
    second = _start(db_url, routes, "replica-b", tmp_path / "b.log", "--ttl", "1",
                    "--until-empty")
    _wait(second)

    received = _keys(vendor)
    assert set(received) == set(keys), "a notification was lost"
    twice = {k for k, n in received.items() if n > 1}
    assert twice <= in_doubt, f"sent twice without being in doubt: {twice - in_doubt}"
    session.expire_all()
    assert set(session.scalars(select(OutboxNotification.status))) == {"delivered"}
    assert any(t["held"] and t["delivered"] for t in _ticks(tmp_path / "b.log"))


def test_reevaluation_after_restart_is_idempotent(session, vendor):
    """A new process evaluating the same signals finds the incident, and adds nothing."""
    from alerting_support import signal

    rt = make_runtime(routing_yaml(vendor.url))
    signals_ = [signal(1, "s", 5, "page", minutes(0))]
    process_signals(session, signals_, minutes(0), rt)
    session.commit()
    session.close()
    fresh = make_runtime(routing_yaml(vendor.url))  # a new process: a new runtime
    report = process_signals(session, signals_, minutes(1), fresh)
    session.commit()
    assert report.opened == [] and report.alerts_opened == 0
    assert session.scalar(select(func.count()).select_from(OutboxNotification)) == 2


def test_two_replicas_never_both_send(db_url, session, vendor, tmp_path):
    if not db_url.startswith("postgresql"):
        pytest.skip("the replica scenario runs on PostgreSQL")
    routes = tmp_path / "routes.yaml"
    routes.write_text(routing_yaml(vendor.url, routes=HOOK_ONLY))
    rt = make_runtime(routes.read_text())

    # 1. A healthy lease: one replica does all the work, the other waits.
    keys = _queue(session, rt, 10)
    a = _start(db_url, routes, "replica-a", tmp_path / "a.log", "--ttl", "5", "--until-empty")
    b = _start(db_url, routes, "replica-b", tmp_path / "b.log", "--ttl", "5", "--until-empty")
    _wait(a)
    _wait(b)
    ticks = _ticks(tmp_path / "a.log") + _ticks(tmp_path / "b.log")
    workers = {t["holder"] for t in ticks if t["held"]}
    assert len(workers) == 1, f"both replicas held the lease: {workers}"
    assert sum(t["delivered"] for t in ticks) == 10

    # 2. Lease lost mid-pass: each pass takes ~2 s against a 0.3 s lease, so both
    #    replicas deliver at the same time. Row claims keep every send single.
    keys = _queue(session, rt, 40, first=100)  # every key so far, old and new
    vendor.delay = 0.05
    a = _start(db_url, routes, "replica-a", tmp_path / "a2.log", "--ttl", "0.3",
               "--until-empty")
    b = _start(db_url, routes, "replica-b", tmp_path / "b2.log", "--ttl", "0.3",
               "--until-empty")
    _wait(a)
    _wait(b)
    received = _keys(vendor)
    assert set(received) == set(keys)
    assert max(received.values()) == 1, "a notification was sent twice"
    per_worker = Counter()
    for t in _ticks(tmp_path / "a2.log") + _ticks(tmp_path / "b2.log"):
        per_worker[t["holder"]] += t["delivered"]
    assert sum(per_worker.values()) == 40
    assert len([w for w, n in per_worker.items() if n]) == 2, per_worker
