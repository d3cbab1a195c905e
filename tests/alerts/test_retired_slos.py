"""An SLO deleted while it pages: its incident resolves, with resolve notifications per
receiver settings, whether the SLO went through the API or a YAML folder re-applied
without it, and whether the next evaluation or the housekeeping job notices first."""

from __future__ import annotations

import pytest
import yaml
from alerting_support import complete_job, fail_job, make_runtime, minutes, routing_yaml
from sqlalchemy import select

from app.alerts.delivery import deliver_due
from app.alerts.jobs import alert_housekeeping
from app.alerts.process import process_signals
from app.alerts.runtime import set_runtime
from app.slo.evaluation import signals_for
from app.slo.service import Evaluator
from app.slo.store import load_directory
from app.store.alert_models import Incident, IncidentAlert, IncidentEvent, OutboxNotification


def _slo(name: str, job: str) -> dict:
    return {"name": name, "owner": "team-etl", "sli": {"kind": "success_rate"},
            "target": {"job": {"namespace": "pipelines", "name": job}},
            "objective": 0.99, "min_events": 1}


QUIET = """  - name: quiet
    type: slack
    webhook_url: {url}/slack/hook
    send_resolved: false
"""


@pytest.fixture
def rt(vendor):
    runtime = make_runtime(routing_yaml(vendor.url, extra=QUIET.format(url=vendor.url),
                                        routes="  - {receivers: [pd, quiet]}\n"))
    previous = set_runtime(runtime)  # what the housekeeping job uses
    yield runtime
    set_runtime(previous)


def _evaluate(session, rt, evaluator, at):
    report = process_signals(session, signals_for(evaluator.run(session, at)), at, rt)
    session.commit()
    deliver_due(session, at, runtime=rt)
    return report


def _pages_then_removed(api, session, rt, vendor, tmp_path,
                        source: str) -> tuple[Incident, Evaluator]:
    """nightly-ok pages on a failed run; then its definition is removed from `source`."""
    folder = tmp_path / "slos"
    folder.mkdir()
    if source == "api":
        created = api.post("/api/v1/slos", json=_slo("nightly-ok", "nightly"))
        assert created.status_code == 201, created.text
        slo_id = created.json()["slos"][0]["id"]
    else:
        (folder / "slos.yaml").write_text(yaml.safe_dump_all(
            [_slo("nightly-ok", "nightly"), _slo("hourly-ok", "hourly")]))
        assert load_directory(session, folder) == []
        session.commit()
    complete_job(api, "nightly", at=0)
    fail_job(api, "nightly", at=60)
    complete_job(api, "hourly", at=0)
    evaluator = Evaluator()
    assert _evaluate(session, rt, evaluator, minutes(62)).opened
    incident = session.scalar(select(Incident))
    assert (incident.state, incident.severity) == ("firing", "page")
    assert [b["event_action"] for b in vendor.bodies("/v2/enqueue")] == ["trigger"]

    if source == "api":
        assert api.delete(f"/api/v1/slos/{slo_id}").status_code == 204
    else:
        (folder / "slos.yaml").write_text(yaml.safe_dump(_slo("hourly-ok", "hourly")))
        assert load_directory(session, folder) == []
        session.commit()
    return incident, evaluator


def _assert_resolved(session, vendor, incident: Incident) -> None:
    session.refresh(incident)
    assert incident.state == "resolved"
    assert incident.resolution == "SLO nightly-ok deleted"
    alert = session.scalar(select(IncidentAlert))
    assert (alert.state, alert.resolution) == ("resolved", "SLO deleted")
    timeline = session.scalars(select(IncidentEvent.message).where(
        IncidentEvent.incident_id == incident.id).order_by(IncidentEvent.id)).all()
    assert "SLO nightly-ok (page) deleted" in timeline
    assert [b["event_action"] for b in vendor.bodies("/v2/enqueue")] == ["trigger", "resolve"]
    assert vendor.bodies("/v2/enqueue")[1]["dedup_key"] == incident.dedup_key
    rows = session.execute(select(OutboxNotification.receiver, OutboxNotification.status)
                           .where(OutboxNotification.action == "resolve")
                           .order_by(OutboxNotification.receiver)).all()
    assert rows == [("pd", "delivered"), ("quiet", "skipped")]


def test_slo_deleted_by_api_resolves_in_housekeeping(api, session, rt, vendor, tmp_path):
    incident, _ = _pages_then_removed(api, session, rt, vendor, tmp_path, "api")
    alert_housekeeping(session, minutes(63))  # no SLO left: no evaluation would notice
    session.commit()
    deliver_due(session, minutes(63), runtime=rt)
    _assert_resolved(session, vendor, incident)
    alert_housekeeping(session, minutes(64))  # once
    session.commit()
    assert len(vendor.bodies("/v2/enqueue")) == 2


def test_slo_dropped_from_yaml_resolves_at_next_evaluation(api, session, rt, vendor, tmp_path):
    incident, evaluator = _pages_then_removed(api, session, rt, vendor, tmp_path, "file")
    report = _evaluate(session, rt, evaluator, minutes(63))
    assert report.resolved == [incident.id]
    _assert_resolved(session, vendor, incident)


def test_incident_stays_open_while_another_slo_burns(api, session, rt, vendor):
    for name in ("nightly-ok", "nightly-fast"):
        assert api.post("/api/v1/slos", json=_slo(name, "nightly")).status_code == 201
    complete_job(api, "nightly", at=0)
    fail_job(api, "nightly", at=60)
    evaluator = Evaluator()
    _evaluate(session, rt, evaluator, minutes(62))
    incident = session.scalar(select(Incident))
    assert len(session.scalars(select(IncidentAlert)).all()) == 2
    gone = api.get("/api/v1/slos", params={"name": "nightly-ok"}).json()["slos"][0]["id"]
    assert api.delete(f"/api/v1/slos/{gone}").status_code == 204
    _evaluate(session, rt, evaluator, minutes(63))
    session.refresh(incident)
    assert incident.state == "firing"
    states = dict(session.execute(select(IncidentAlert.slo_name, IncidentAlert.state)).all())
    assert states == {"nightly-ok": "resolved", "nightly-fast": "firing"}
    assert [b["event_action"] for b in vendor.bodies("/v2/enqueue")] == ["trigger"]
