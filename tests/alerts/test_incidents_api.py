"""The incidents, silences and maintenance-window API, and the `dataslo silence` CLI."""

from __future__ import annotations

import pytest
from alerting_support import (
    build_fanout,
    dataset_ids,
    fail_job,
    make_runtime,
    minutes,
    routing_yaml,
    signal,
)
from fastapi.testclient import TestClient

from app.alerts.delivery import deliver_due
from app.alerts.process import process_signals
from app.main import create_app


@pytest.fixture
def api(app_settings, vendor):
    with TestClient(create_app(app_settings)) as c:
        c.app.state.alert_runtime = make_runtime(routing_yaml(vendor.url))
        yield c


@pytest.fixture
def estate(api, session):
    """Two incidents: a failed job behind three marts (page), and a lone ticket."""
    build_fanout(api, 4)
    fail_job(api, "load_raw", at=60)
    ids = dataset_ids(session)
    rt = api.app.state.alert_runtime
    marts = [signal(i, f"mart_{i}-fresh", ids[f"mart_{i}"], "page", minutes(70),
                    target=f"mart_{i}", owner=f"owner_{i}") for i in range(3)]
    other = signal(9, "lonely", 999, "ticket", minutes(70), target="lonely", owner="zoe")
    process_signals(session, [*marts, other], minutes(70), rt)
    session.commit()
    deliver_due(session, minutes(70), runtime=rt)
    return ids


def test_list_filters(api, estate):
    every = api.get("/api/v1/incidents").json()
    assert every["totalCount"] == 2
    assert {i["severity"] for i in every["incidents"]} == {"page", "ticket"}

    def ids(**params):
        body = api.get("/api/v1/incidents", params=params).json()
        return sorted(i["title"] for i in body["incidents"])

    page = "job pipelines/load_raw (latest run failed): 3 SLOs burning downstream"
    lonely = "SLO lonely is burning its error budget (ticket)"
    assert ids(severity="page") == [page]
    assert ids(owner="owner_2") == [page]  # a symptom's owner finds the incident
    assert ids(owner="zoe") == [lonely]
    assert ids(slo="mart_1-fresh") == [page]
    assert ids(state="firing") == sorted([page, lonely])
    assert ids(state="resolved") == []
    assert api.get("/api/v1/incidents", params={"state": "sleeping"}).status_code == 422


def test_detail_acknowledge_and_resolve(api, estate, vendor):
    listing = api.get("/api/v1/incidents", params={"severity": "page"}).json()
    incident_id = listing["incidents"][0]["id"]
    detail = api.get(f"/api/v1/incidents/{incident_id}").json()
    assert detail["root_cause"]["name"] == "load_raw"
    assert detail["root_cause"]["reason"] == "latest run failed"
    assert sorted((s["slo"], s["owner"]) for s in detail["symptoms"]) == [
        ("mart_0-fresh", "owner_0"), ("mart_1-fresh", "owner_1"), ("mart_2-fresh", "owner_2")]
    assert {a["name"] for a in detail["impact"]["assets"]} >= {"raw", "mart_3", "build_3"}
    assert {"name": "mart_0", "kind": "dataset", "namespace": "warehouse", "distance": 3,
            "owners": ["owner_0"]} in detail["impact"]["assets"]
    sent = [(n["receiver"], n["action"], n["status"], len(n["attempts"]))
            for n in detail["notifications"]]
    assert sent == [("pd", "trigger", "delivered", 1), ("slack", "trigger", "delivered", 1)]
    assert detail["notifications"][0]["attempts"][0]["status_code"] == 202
    kinds = [e["kind"] for e in detail["timeline"]]
    assert kinds[0] == "opened" and "routed" in kinds and "delivery" in kinds

    acked = api.post(f"/api/v1/incidents/{incident_id}/acknowledge",
                     json={"by": "alice", "comment": "looking"})
    assert acked.status_code == 200 and acked.json()["state"] == "acknowledged"
    resolved = api.post(f"/api/v1/incidents/{incident_id}/resolve", json={"by": "alice"})
    assert resolved.json()["state"] == "resolved"
    assert resolved.json()["resolution"] == "resolved by alice"
    assert api.post(f"/api/v1/incidents/{incident_id}/resolve",
                    json={"by": "alice"}).status_code == 409
    assert api.post("/api/v1/incidents/999/acknowledge", json={"by": "x"}).status_code == 404
    actions = [n["action"] for n in resolved.json()["notifications"] if n["receiver"] == "pd"]
    assert actions == ["trigger", "acknowledge", "resolve"]


def test_silences_crud(api):
    bad = api.post("/api/v1/silences", json={
        "matchers": [{"name": "team", "value": "payments"}], "duration": "2h",
        "created_by": "bob", "comment": " "})
    assert bad.status_code == 422
    assert bad.json()["detail"] == [{"path": "comment",
                                     "reason": "say why (it is what on-call reads)"}]
    created = api.post("/api/v1/silences", json={
        "matchers": [{"name": "team", "value": "payments"},
                     {"name": "slo", "value": "orders-.*", "regex": True}],
        "duration": "2h", "created_by": "bob", "comment": "deploying the fix"})
    assert created.status_code == 201, created.text
    silence = created.json()
    assert silence["state"] == "active" and silence["created_by"] == "bob"
    listed = api.get("/api/v1/silences", params={"state": "active"}).json()
    assert [s["id"] for s in listed["silences"]] == [silence["id"]]
    patched = api.patch(f"/api/v1/silences/{silence['id']}", json={"comment": "still deploying"})
    assert patched.json()["comment"] == "still deploying"
    expired = api.delete(f"/api/v1/silences/{silence['id']}")
    assert expired.json()["state"] == "expired"
    assert api.delete(f"/api/v1/silences/{silence['id']}").status_code == 409
    assert api.get("/api/v1/silences", params={"state": "active"}).json()["totalCount"] == 0
    assert api.get("/api/v1/silences/12345").status_code == 404


def test_maintenance_windows_api(api):
    created = api.post("/api/v1/maintenance-windows", json={
        "name": "vacuum", "match": {"namespace": "warehouse"}, "cron": "0 2 * * 0",
        "duration": "2h", "timezone": "Europe/Paris", "exclude_budget": True,
        "created_by": "ops"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["exclude_budget"] is True and body["next_start"] is not None
    assert api.post("/api/v1/maintenance-windows", json={
        "name": "broken", "cron": "0 2 * * 0"}).json()["detail"] == [
        {"path": "duration", "reason": "a recurring window (cron) needs a duration"}]
    assert api.get("/api/v1/maintenance-windows").json()["totalCount"] == 1
    assert api.delete(f"/api/v1/maintenance-windows/{body['id']}").status_code == 204


@pytest.fixture
def cli(db_url, monkeypatch):
    """`dataslo` in-process (a subprocess per command costs seconds on a busy machine)."""
    from typer.testing import CliRunner

    from app.cli import app
    from app.settings import get_settings

    monkeypatch.setenv("DATASLO_DATABASE_URL", db_url)
    get_settings.cache_clear()
    runner = CliRunner()
    yield lambda *args: runner.invoke(app, list(args))
    get_settings.cache_clear()


def test_silence_cli(cli):
    added = cli("silence", "add", "team=payments", "slo=~orders-.*", "-c", "deploying",
                "-a", "bob", "-d", "2h")
    assert added.exit_code == 0, added.output
    silence_id = added.stdout.strip()
    listed = cli("silence", "list")
    assert listed.stdout.startswith(f"{silence_id}\tactive\tteam=payments slo=~orders-.*\t")
    assert listed.stdout.rstrip().endswith("\tbob\tdeploying")
    assert cli("silence", "expire", silence_id).exit_code == 0
    assert cli("silence", "list").stdout == ""
    assert cli("silence", "list", "--state", "expired").stdout.startswith(f"{silence_id}\texpired")
    bad = cli("silence", "add", "team", "-c", "x")
    assert bad.exit_code == 2 and "not a matcher" in bad.output
