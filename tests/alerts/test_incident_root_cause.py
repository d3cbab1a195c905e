"""Root-cause grouping through lineage, on lineage built by real ingestion.

One failed upstream job feeding many datasets whose SLOs burn must page once, with the
job as root cause and every SLO listed with its owner; when the job recovers, the
incident and all its symptoms resolve with one resolve notification.
"""

from __future__ import annotations

from alerting_support import (
    build_fanout,
    complete_job,
    dataset_ids,
    fail_job,
    job_ids,
    make_runtime,
    minutes,
    routing_yaml,
    signal,
)
from sqlalchemy import func, select

from app.alerts.delivery import deliver_due
from app.alerts.process import process_signals
from app.store.alert_models import Incident, IncidentAlert, OutboxNotification


def _signals(ids: dict[str, int], n: int, severity: str | None, at):
    return [signal(100 + i, f"mart_{i:02d}-freshness", ids[f"mart_{i}"], severity, at,
                   target=f"mart_{i}", owner=f"owner_{i}") for i in range(n)]


def _cycle(session, rt, signals, at):
    report = process_signals(session, signals, at, rt)
    session.commit()
    deliver_due(session, at, runtime=rt)
    return report


def test_one_failed_upstream_many_burning_slos_pages_once(api, session, vendor):
    n = 50
    build_fanout(api, n)
    fail_job(api, "load_raw", at=60)
    ids = dataset_ids(session)
    rt = make_runtime(routing_yaml(vendor.url))

    report = _cycle(session, rt, _signals(ids, n, "page", minutes(70)), minutes(70))

    assert len(report.opened) == 1 and report.alerts_opened == n
    pages = vendor.bodies("/v2/enqueue")
    assert len(pages) == 1, "one broken upstream must page once"
    page = pages[0]
    incident = session.scalar(select(Incident))
    assert page["event_action"] == "trigger"
    assert page["dedup_key"] == incident.dedup_key
    assert page["payload"]["summary"] == (
        "job pipelines/load_raw (latest run failed): 50 SLOs burning downstream")
    assert page["payload"]["custom_details"]["root_cause"] == (
        "job pipelines/load_raw: latest run failed")
    impacted = page["payload"]["custom_details"]["impacted"]
    assert page["payload"]["custom_details"]["impacted_total"] >= n
    assert {a["slo"]: a["owner"] for a in impacted[:n]} == {
        f"mart_{i:02d}-freshness": f"owner_{i}" for i in range(n)}
    assert len(vendor.bodies("/slack/hook")) == 1
    assert incident.root_key == f"job:{job_ids(session)['load_raw']}"
    roles = session.execute(select(IncidentAlert.role, func.count()).group_by(
        IncidentAlert.role)).all()
    assert dict(roles) == {"symptom": n}

    # Still burning a minute later: nothing new is sent.
    _cycle(session, rt, _signals(ids, n, "page", minutes(71)), minutes(71))
    assert len(vendor.bodies("/v2/enqueue")) == 1

    # The job runs again and succeeds: the incident and all 50 symptoms resolve together,
    # even though the SLOs still burn (their windows still hold the bad minutes).
    complete_job(api, "load_raw", at=80)
    report = _cycle(session, rt, _signals(ids, n, "page", minutes(85)), minutes(85))
    assert report.resolved == [incident.id]
    session.refresh(incident)
    assert incident.state == "resolved"
    assert incident.resolution == "root cause recovered: job pipelines/load_raw"
    assert session.scalar(select(func.count()).where(IncidentAlert.state == "firing")) == 0
    pd = vendor.bodies("/v2/enqueue")
    assert [b["event_action"] for b in pd] == ["trigger", "resolve"]
    assert pd[1] == {"routing_key": "pd-routing-key-1", "event_action": "resolve",
                     "dedup_key": incident.dedup_key}

    # Held symptoms do not reopen while they catch up, and rearm once healthy.
    report = _cycle(session, rt, _signals(ids, n, "page", minutes(86)), minutes(86))
    assert report.opened == [] and report.held == n
    _cycle(session, rt, _signals(ids, n, None, minutes(95)), minutes(95))
    assert len(vendor.bodies("/v2/enqueue")) == 2
    assert session.scalar(select(func.count()).select_from(OutboxNotification)) == 4


def test_symptoms_joining_later_stay_in_one_incident(api, session, vendor):
    build_fanout(api, 6)
    fail_job(api, "load_raw", at=60)
    ids = dataset_ids(session)
    rt = make_runtime(routing_yaml(vendor.url))
    _cycle(session, rt, _signals(ids, 2, "page", minutes(65)), minutes(65))
    _cycle(session, rt, _signals(ids, 6, "page", minutes(70)), minutes(70))

    assert session.scalar(select(func.count()).select_from(Incident)) == 1
    assert len(vendor.bodies("/v2/enqueue")) == 1
    assert session.scalar(select(func.count()).where(IncidentAlert.state == "firing")) == 6


def test_burning_upstream_dataset_leads_and_symptoms_resolve_with_it(api, session, vendor):
    """No failed job: the upstream dataset's own burning SLO is the root cause."""
    build_fanout(api, 3)
    ids = dataset_ids(session)
    rt = make_runtime(routing_yaml(vendor.url))
    raw = signal(1, "raw-freshness", ids["raw"], "page", minutes(30), target="raw",
                 owner="ingest-team")
    marts = _signals(ids, 3, "page", minutes(30))
    _cycle(session, rt, [raw, *marts], minutes(30))

    incident = session.scalar(select(Incident))
    assert incident.root_key == f"dataset:{ids['raw']}"
    assert incident.slo_name == "raw-freshness"
    assert incident.title == "dataset warehouse/raw: 4 SLOs burning"
    assert dict(session.execute(select(IncidentAlert.slo_name, IncidentAlert.role)).all()) == {
        "raw-freshness": "root", **{m.slo_name: "symptom" for m in marts}}
    assert len(vendor.bodies("/v2/enqueue")) == 1
    assert vendor.bodies("/v2/enqueue")[0]["payload"]["custom_details"]["slo"] == "raw-freshness"

    # raw recovers, marts still burn: one resolve, for the whole incident.
    ok = signal(1, "raw-freshness", ids["raw"], None, minutes(40), target="raw")
    _cycle(session, rt, [ok, *_signals(ids, 3, "page", minutes(40))], minutes(40))
    session.refresh(incident)
    assert incident.state == "resolved"
    assert [b["event_action"] for b in vendor.bodies("/v2/enqueue")] == ["trigger", "resolve"]


def test_unrelated_slos_are_separate_incidents(api, session, vendor):
    build_fanout(api, 2)
    ids = dataset_ids(session)
    rt = make_runtime(routing_yaml(vendor.url))
    _cycle(session, rt, _signals(ids, 2, "page", minutes(30)), minutes(30))
    assert session.scalar(select(func.count()).select_from(Incident)) == 2
    assert len(vendor.bodies("/v2/enqueue")) == 2


def test_root_moves_upstream_when_the_job_failure_is_found_later(api, session, vendor):
    """A mart burns first on its own; then its upstream job is seen failing: the open
    incident is re-rooted on the job instead of a second page being sent."""
    build_fanout(api, 2)
    ids = dataset_ids(session)
    rt = make_runtime(routing_yaml(vendor.url))
    first = _signals(ids, 1, "page", minutes(30))
    _cycle(session, rt, first, minutes(30))
    incident = session.scalar(select(Incident))
    assert incident.root_key == f"dataset:{ids['mart_0']}"

    fail_job(api, "build_0", at=31)
    _cycle(session, rt, _signals(ids, 1, "page", minutes(35)), minutes(35))
    session.refresh(incident)
    assert incident.root_key == f"job:{job_ids(session)['build_0']}"
    assert incident.root_cause["reason"] == "latest run failed"
    assert len(vendor.bodies("/v2/enqueue")) == 1
