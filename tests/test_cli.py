"""The `dataslo` command as a user runs it."""

from __future__ import annotations

import json

from factories import new_run_id, run_event
from servers import dataslo, running_service

from app.cli import check_exposure, is_loopback, read_events
from app.settings import Settings


def test_exposure_rules():
    s = Settings()
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0")
    assert check_exposure(s, "127.0.0.1", 0, False) is None
    assert "without any API token" in check_exposure(s, "0.0.0.0", 0, False)
    assert check_exposure(s, "0.0.0.0", 1, False) is None
    assert check_exposure(s, "0.0.0.0", 0, True) is None
    assert "DATASLO_AUTH=disabled" in check_exposure(Settings(auth="disabled"), "10.1.2.3", 3, False)


def test_read_events_accepts_json_array_and_jsonl(tmp_path):
    a, b = run_event("START", new_run_id()), run_event("COMPLETE", new_run_id())
    (tmp_path / "a.json").write_text(json.dumps([a, b]))
    (tmp_path / "b.jsonl").write_text(json.dumps(a) + "\n\n" + json.dumps(b) + "\n")
    assert read_events(str(tmp_path / "a.json")) == [a, b]
    assert read_events(str(tmp_path / "b.jsonl")) == [a, b]


def test_ingest_command_posts_a_file_and_reports_failures(db_url, tmp_path):
    good = [run_event("START", new_run_id(), job=f"j{i}") for i in range(7)]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in [*good, run_event("START", "bad-id")]))
    env = {"DATASLO_DATABASE_URL": db_url}
    with running_service(db_url) as base:
        result = dataslo("ingest", str(path), "--url", base, "--batch-size", "3", env=env)
        assert result.returncode == 1
        assert "event 7:" in result.stderr
        assert "7 of 8 events accepted" in result.stdout
        listed = dataslo("token", "list", env=env)
        assert listed.returncode == 0
