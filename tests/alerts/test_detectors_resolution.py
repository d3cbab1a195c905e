"""Breaking schema changes resolve by themselves once the breakage is over: the schema is
restored, or every consuming job completed a run on the new schema. Built through real
ingestion; the resolve goes to the receivers like any other."""

from __future__ import annotations

from alerting_support import (
    ORDERS_BEFORE,
    breaking_orders_change,
    make_runtime,
    post,
    routing_yaml,
)
from factories import dataset, new_run_id, run_event

from app.alerts.delivery import deliver_due
from app.alerts.detectors import detect_schema_changes, resolve_schema_changes
from app.store.alert_models import Incident
from app.store.types import utcnow


def _setup(api, session, vendor, consumers):
    rt = make_runtime(routing_yaml(vendor.url))

    def detect():
        found = detect_schema_changes(session, utcnow(), rt)
        session.commit()
        return found

    (incident_id,) = breaking_orders_change(api, detect, consumers)
    return rt, detect, session.get(Incident, incident_id)


def _consumer_run(api, job, state, at):
    post(api, run_event(state, new_run_id(), job, at=at, inputs=[dataset("orders")]))


def test_restored_schema_resolves_and_the_rollback_opens_nothing(api, session, vendor):
    rt, detect, incident = _setup(api, session, vendor, {"report": "bob"})
    assert resolve_schema_changes(session, utcnow(), rt) == []  # still broken
    post(api, run_event("COMPLETE", new_run_id(), "load_orders", at=90,
                        outputs=[dataset("orders", fields=ORDERS_BEFORE)]))
    assert detect() == []  # reverting a breaking change is not a new one
    assert resolve_schema_changes(session, utcnow(), rt) == [incident.id]
    session.commit()
    session.refresh(incident)
    assert (incident.state, incident.resolution) == (
        "resolved", "schema restored: the removed and retyped columns are back")
    deliver_due(session, utcnow(), runtime=rt)
    assert [b["text"][:10] for b in vendor.bodies("/slack/hook")] == ["[TICKET] B", "[RESOLVED]"]
    assert resolve_schema_changes(session, utcnow(), rt) == []  # once


def test_resolves_once_every_consumer_completed_a_run_after_the_change(api, session, vendor):
    rt, _, incident = _setup(api, session, vendor, {"report": "bob", "audit": "carol"})
    _consumer_run(api, "report", "COMPLETE", at=70)
    _consumer_run(api, "audit", "FAIL", at=70)  # audit still breaks on the new schema
    assert resolve_schema_changes(session, utcnow(), rt) == []
    _consumer_run(api, "audit", "COMPLETE", at=30)  # a run from before the change: no
    assert resolve_schema_changes(session, utcnow(), rt) == []
    assert session.get(Incident, incident.id).state == "firing"
    _consumer_run(api, "audit", "COMPLETE", at=80)
    assert resolve_schema_changes(session, utcnow(), rt) == [incident.id]
    session.commit()
    session.refresh(incident)
    assert incident.resolution == "all 2 consuming job(s) completed a run on the new schema"
