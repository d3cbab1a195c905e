"""Against a real Prometheus Alertmanager (Debian package `prometheus-alertmanager`).

Alertmanager is started on loopback with gossip off; its webhook receiver points at a
local recording server. dataslo's incidents must arrive as alerts, be grouped by
Alertmanager into one notification, and resolve when dataslo sends `endsAt`.
Skipped when the binary is not installed.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from datetime import timedelta

import httpx
import pytest
from alerting_support import Vendor, free_port, make_runtime, signal

from app.alerts.delivery import deliver_due, enqueue_repeats
from app.alerts.process import process_signals
from app.store.db import make_engine, make_session_factory
from app.store.types import utcnow

BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
pytestmark = pytest.mark.skipif(BINARY is None, reason="prometheus-alertmanager not installed")


@pytest.fixture
def session(sqlite_template, tmp_path):
    path = tmp_path / "am.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    with make_session_factory(engine)() as s:
        yield s
    engine.dispose()


@pytest.fixture
def hook():
    v = Vendor()
    yield v
    v.stop()


@pytest.fixture
def alertmanager(tmp_path, hook):
    port = free_port()
    config = tmp_path / "am.yml"
    config.write_text(f"""
route:
  receiver: dataslo-hook
  group_by: [team]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: dataslo-hook
    webhook_configs:
      - url: {hook.url}/am
        send_resolved: true
inhibit_rules:
  - source_matchers: [severity="page"]
    target_matchers: [severity="ticket"]
    equal: [slo]
""")
    proc = subprocess.Popen(
        [BINARY, f"--config.file={config}", f"--storage.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"alertmanager exited:\n{proc.stdout.read()}")
        try:
            if httpx.get(f"{base}/-/ready", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "alertmanager did not become ready"
        time.sleep(0.1)
    yield base
    proc.terminate()
    proc.wait(timeout=10)


def _wait_for(hook, status, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [b for b in hook.bodies("/am") if b["status"] == status]
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"no {status} notification from Alertmanager: {hook.bodies('/am')}")


def test_alerts_arrive_group_and_resolve(session, alertmanager, hook):
    rt = make_runtime(f"""
receivers:
  - name: am
    type: alertmanager
    url: {alertmanager}
    resend_interval: 1
default:
  receivers: [am]
""")
    now = utcnow()
    burning = [signal(i, f"slo-{i}", 100 + i, "page", now, target=f"t{i}") for i in range(3)]
    process_signals(session, burning, now, rt)
    session.commit()
    assert deliver_due(session, now, runtime=rt).delivered == 3

    alerts = httpx.get(f"{alertmanager}/api/v2/alerts").json()
    assert sorted(a["labels"]["slo"] for a in alerts) == ["slo-0", "slo-1", "slo-2"]
    assert {a["labels"]["alertname"] for a in alerts} == {"dataslo_slo_burn"}
    assert all(a["status"]["state"] == "active" for a in alerts)

    firing = _wait_for(hook, "firing")
    assert len(firing) == 1, "Alertmanager should group the three into one notification"
    assert firing[0]["groupLabels"] == {"team": "data"}
    assert sorted(a["labels"]["slo"] for a in firing[0]["alerts"]) == ["slo-0", "slo-1", "slo-2"]

    # Re-sent while firing: the alert's endsAt moves forward.
    ends = {a["labels"]["slo"]: a["endsAt"] for a in alerts}
    later = now + timedelta(seconds=2)
    assert enqueue_repeats(session, later, rt) == 3
    session.commit()
    assert deliver_due(session, later, runtime=rt).delivered == 3
    again = httpx.get(f"{alertmanager}/api/v2/alerts").json()
    assert all(a["endsAt"] > ends[a["labels"]["slo"]] for a in again)

    done = utcnow()
    process_signals(session, [signal(i, f"slo-{i}", 100 + i, None, done) for i in range(3)],
                    done, rt)
    session.commit()
    assert deliver_due(session, done, runtime=rt).delivered == 3
    resolved = _wait_for(hook, "resolved")
    assert sorted(a["labels"]["slo"] for a in resolved[0]["alerts"]) == [
        "slo-0", "slo-1", "slo-2"]
    assert all(a["status"] == "resolved" for a in resolved[0]["alerts"])
