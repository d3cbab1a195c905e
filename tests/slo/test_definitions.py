"""The native SLO model: defaults, exact numbers, cross-field rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from pydantic import ValidationError

from app.slo.definitions import SLODefinition, to_native
from app.slo.freshness import Deadline, MaxAge
from app.slo.windows import CalendarWindow, RollingWindow

DATASET = {"dataset": {"namespace": "postgres://prod", "name": "public.orders"}}
JOB = {"job": {"namespace": "airflow", "name": "orders_dag"}}


def slo(**fields) -> SLODefinition:
    doc = {"name": "orders", "sli": {"kind": "freshness", "max_age": "2h"}, "target": DATASET,
           "objective": 0.999}
    doc.update(fields)
    return SLODefinition.model_validate(doc)


def errors(**fields) -> list[tuple[tuple, str]]:
    with pytest.raises(ValidationError) as info:
        slo(**fields)
    return [(e["loc"], e["msg"]) for e in info.value.errors()]


def test_freshness_defaults_to_minute_timeslices_without_event_guard():
    s = slo()
    assert s.budgeting == "timeslices"
    assert (s.time_slice.window, s.time_slice.target) == (timedelta(minutes=1), 1)
    assert s.min_events == 0
    assert s.period() == RollingWindow(timedelta(days=30))
    assert isinstance(s.sli.rule(), MaxAge)


def test_event_slis_default_to_occurrences_with_guard_and_workbook_alerts():
    s = slo(sli={"kind": "success_rate"}, target=JOB)
    assert (s.budgeting, s.time_slice, s.min_events) == ("occurrences", None, 10)
    rows = [(c.severity, c.long, c.short, c.factor) for c in s.conditions(datetime.now(UTC))]
    assert rows == [
        ("page", timedelta(hours=1), timedelta(minutes=5), Fraction(72, 5)),
        ("page", timedelta(hours=6), timedelta(minutes=30), 6),
        ("ticket", timedelta(days=1), timedelta(hours=2), 3),
        ("ticket", timedelta(days=3), timedelta(hours=6), 1),
    ]


@pytest.mark.parametrize("written", [0.999, "0.999", "99.9%", Fraction(999, 1000)])
def test_objective_is_exact(written):
    assert slo(objective=written).objective == Fraction(999, 1000)


def test_deadline_rule_and_calendar_window():
    s = slo(
        sli={"kind": "freshness", "deadline": {"cron": "0 6 * * 1-5", "timezone": "Europe/Berlin"}},
        window={"calendar": "month", "timezone": "Europe/Berlin"},
    )
    rule = s.sli.rule()
    assert isinstance(rule, Deadline) and rule.schedule.timezone == "Europe/Berlin"
    assert s.period() == CalendarWindow("M", 1, "Europe/Berlin", datetime(2024, 1, 1))


def test_budget_share_alert_resolves_against_the_actual_month():
    s = slo(
        window={"calendar": "month", "timezone": "Europe/Berlin"},
        alerts=[{"severity": "page", "long": "1h", "short": "5m", "budget_share": "2%"}],
    )
    march = s.conditions(datetime(2024, 3, 10, tzinfo=UTC))[0]
    april = s.conditions(datetime(2024, 4, 10, tzinfo=UTC))[0]
    assert march.factor == Fraction(2, 100) * 743  # 743 hours in March, Berlin time
    assert april.factor == Fraction(2, 100) * 720


def test_selector_targets_and_matching():
    s = slo(target={"selector": {"namespace": "postgres://prod*", "tags": ["gold"]}})
    sel = s.target.selector
    assert sel.matches("postgres://prod-eu", ["gold", "pii"])
    assert not sel.matches("postgres://prod-eu", ["pii"])
    assert not sel.matches("mysql://prod", ["gold"])
    owned = slo(target={"selector": {"owner": "team-orders"}}).target.selector
    assert owned.matches("any", owners=["team-orders"]) and not owned.matches("any")


@pytest.mark.parametrize(
    ("fields", "loc", "fragment"),
    [
        ({"objective": 1}, ("objective",), "strictly between 0 and 1"),
        ({"target": JOB}, ("target",), "measures a dataset, not a job"),
        ({"sli": {"kind": "freshness"}}, ("sli", "freshness"), "exactly one of max_age"),
        ({"sli": {"kind": "freshness", "max_age": "2 hours"}}, ("sli", "freshness", "max_age"),
         "expected a duration"),
        ({"sli": {"kind": "freshnes", "max_age": "2h"}}, ("sli",), "does not match"),
        ({"budgeting": "occurrences"}, ("budgeting",), "measured in time"),
        ({"target": {"selector": {}}}, ("target", "selector"), "at least one of"),
        ({"target": {}}, ("target",), "exactly one of dataset, job, selector"),
        ({"window": "7d", "alerts": [{"severity": "ticket", "long": "30d", "short": "6h",
                                      "factor": 1}]}, ("alerts",), "exceeds the 7d SLO window"),
        ({"alerts": [{"severity": "page", "long": "1h", "short": "5m"}]}, ("alerts", 0),
         "exactly one of factor, budget_share"),
        ({"window": {"calendar": "fortnight"}}, ("window", "calendar", "calendar"), "expected day"),
        ({"window": {"calendar": "month", "timezone": "Europe/Atlantis"}},
         ("window", "calendar", "timezone"), "unknown IANA time zone"),
        ({"labels": {"has-dash": "x"}}, ("labels", "has-dash", "[key]"), "pattern"),
        ({"owner": "x", "ownr": "y"}, ("ownr",), "Extra inputs"),
        ({"name": "Orders_SLO"}, ("name",), "pattern"),
    ],
)
def test_validation_errors(fields, loc, fragment):
    found = errors(**fields)
    assert any(l == loc and fragment in msg for l, msg in found), found


def test_quality_assertion_filter():
    q = slo(sli={"kind": "quality", "assertions": ["not_null_*", "unique_id"]}).sli
    assert q.counts_assertion("not_null_email") and q.counts_assertion("unique_id")
    assert not q.counts_assertion("accepted_values_status")
    assert slo(sli={"kind": "quality"}).sli.counts_assertion("anything")


def test_cron_is_validated():
    found = errors(sli={"kind": "success_rate", "schedule": {"cron": "0 25 * * *"}}, target=JOB)
    assert found[0][0] == ("sli", "success_rate", "schedule", "cron")


def test_native_round_trip_keeps_everything():
    s = slo(
        owner="team-orders", tier=1, labels={"product": "orders"},
        sli={"kind": "volume", "median_fraction": 0.5, "versions": 5},
        window={"calendar": "2w", "timezone": "America/New_York", "start": "2024-01-07 06:00"},
        alerts=[{"severity": "ticket", "long": "1d", "short": "2h", "budget_share": "12.5%"}],
        min_events=3,
    )
    assert s.tier == "1"
    again = SLODefinition.model_validate(to_native(s))
    assert again == s
    assert to_native(s)["objective"] == 0.999


def test_json_schema_can_be_generated_for_the_api():
    schema = SLODefinition.model_json_schema()
    assert "objective" in schema["properties"]
