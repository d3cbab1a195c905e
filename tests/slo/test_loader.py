"""YAML loading: multi-document files, and every problem with file, line and field."""

from __future__ import annotations

from fractions import Fraction

import pytest

from app.slo.loader import Problem, SLOValidationError, load_slo_documents, parse_slo_document

GOOD = """\
name: orders-fresh
owner: team-orders
tier: 1
sli:
  kind: freshness
  deadline: {cron: "0 6 * * 1-5", timezone: Europe/Berlin}
target:
  dataset: {namespace: "postgres://prod", name: public.orders}
objective: 0.995
window: {calendar: month, timezone: Europe/Berlin}
---
# an empty document is fine
---
apiVersion: dataslo/v1
kind: SLO
name: orders-job
sli: {kind: success_rate, schedule: {cron: "0 * * * *", grace: 30m}}
target:
  job: {namespace: airflow, name: orders_dag}
objective: 99%
"""

BAD = """\
name: ok-one
sli: {kind: quality}
target: {dataset: {namespace: pg, name: t}}
objective: 0.99
---
name: bad-one
sli:
  kind: freshness
  max_agee: 2h
target:
  dataset: {namespace: pg, name: t}
objective: 1.5
window: 7x
alerts:
  - {severity: page, long: 1h, short: 5m, factor: 14.4}
  - {severity: page, long: 5m, short: 1h, factor: 14.4}
---
sli: {kind: duration, threshold: 45m}
target: {job: {namespace: a, name: b}}
objective: 0.9
---
name: ok-one
sli: {kind: quality}
target: {dataset: {namespace: pg, name: t}}
objective: 0.99
"""


def problems(text: str) -> list[tuple[int | None, str, str]]:
    with pytest.raises(SLOValidationError) as info:
        load_slo_documents(text, "slos.yaml")
    assert all(p.file == "slos.yaml" for p in info.value.problems)
    return [(p.line, p.path, p.reason) for p in info.value.problems]


def test_multi_document_file_loads_native_forms():
    slos = load_slo_documents(GOOD, "slos.yaml")
    assert [s.name for s in slos] == ["orders-fresh", "orders-job"]
    assert slos[0].objective == Fraction(995, 1000)
    assert slos[0].tier == "1"
    assert slos[1].objective == Fraction(99, 100)
    assert slos[1].sli.schedule.grace.total_seconds() == 1800


def test_every_problem_is_reported_with_its_line_and_path():
    found = problems(BAD)
    assert found == [
        (9, "sli.max_agee", "unknown field"),
        (12, "objective", "the objective lies strictly between 0 and 1, e.g. 0.99 or 99%"),
        (13, "window", "expected a duration like 5m, 6h, 30d or 1h30m, got '7x'"),
        (16, "alerts[1]", "the short window must be shorter than the long one"),
        (18, "name", "required field is missing"),
        (22, "name", "SLO 'ok-one' defined twice"),
    ]
    assert str(Problem("slos.yaml", 9, "sli.max_agee", "unknown field")) == (
        "slos.yaml:9: sli.max_agee: unknown field"
    )


def test_error_message_lists_all_problems():
    with pytest.raises(SLOValidationError) as info:
        load_slo_documents(BAD, "slos.yaml")
    text = str(info.value)
    assert "slos.yaml:9: sli.max_agee: unknown field" in text
    assert "slos.yaml:22: name: SLO 'ok-one' defined twice" in text


def test_yaml_syntax_error_has_a_line():
    found = problems("name: x\nsli: {kind: quality\ntarget: y\n")
    assert len(found) == 1 and found[0][0] == 3 and found[0][2].startswith("invalid YAML")


def test_duplicate_keys_are_errors_not_silently_last_wins():
    text = "name: a\nobjective: 0.9\nobjective: 0.99\nsli: {kind: quality}\n" \
           "target: {dataset: {namespace: pg, name: t}}\n"
    assert problems(text) == [(3, "", "duplicate key 'objective'")]


def test_documents_must_be_mappings_with_a_known_version():
    assert problems("- a\n- b\n") == [(1, "", "an SLO document must be a mapping")]
    assert problems("apiVersion: sloth/v1\nname: x\n") == [
        (1, "apiVersion", "expected openslo/v1, dataslo/v1, or none for the native form")
    ]


def test_exact_float_reading():
    text = "name: a\nsli: {kind: quality}\ntarget: {dataset: {namespace: pg, name: t}}\n" \
           "objective: 0.9999\n"
    assert load_slo_documents(text)[0].objective == Fraction(9999, 10000)


def test_parse_single_document_for_the_api():
    doc = {"name": "a", "sli": {"kind": "quality"}, "target": {"dataset": {"namespace": "pg",
                                                                           "name": "t"}},
           "objective": "99.5%"}
    assert parse_slo_document(doc).objective == Fraction(995, 1000)
    with pytest.raises(SLOValidationError) as info:
        parse_slo_document({**doc, "objective": 2})
    assert [(p.line, p.path) for p in info.value.problems] == [(None, "objective")]
