"""Stored evaluations: the compact document holds what the report is computed from, and
history reads it, and the full documents stored by earlier versions, alike."""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction

from factories import T0

from app.slo.burn import Counts
from app.slo.engine import assess
from app.slo.loader import load_slo_documents
from app.slo.report import history_document, history_points, report_document, stored_counts

SLO = load_slo_documents("name: s\nsli: {kind: quality}\ntarget: {dataset: {namespace: n, name: d}}\n"
                         "objective: 0.99\n")[0]
COUNTS = {"5m": Counts(0, 0), "30m": Counts(2, 3), "1h": Counts(5, 7), "2h": Counts(9, 12),
          "6h": Counts(30, 36), "1d": Counts(120, 130), "3d": Counts(400, 420), "period": Counts(4000, 4040)}


def test_the_compact_document_recomputes_the_full_report():
    report = assess(SLO, COUNTS, T0)
    doc = history_document(report, revision=3)
    assert doc["revision"] == 3 and Fraction(doc["objective"]) == Fraction(99, 100)
    assert stored_counts(doc) == COUNTS
    assert report_document(assess(SLO, stored_counts(doc), T0)) == report_document(report)


def test_history_reads_compact_and_full_documents_alike():
    report = assess(SLO, COUNTS, T0)
    rows = [(T0, report.state, report.severity, float(report.budget.remaining), report_document(report)),
            (T0 + timedelta(minutes=10), report.state, report.severity, float(report.budget.remaining),
             history_document(report, 1))]
    old, new = history_points(rows, T0, T0 + timedelta(minutes=10), timedelta(minutes=10))
    assert old["burn_rates"] == new["burn_rates"]
    assert new["burn_rates"]["5m"] is None
    assert new["burn_rates"]["30m"] == float(Fraction(1, 3) / Fraction(1, 100))
    assert old["sli"] == new["sli"] == 4000 / 4040
    assert list(new["burn_rates"]) == ["5m", "30m", "1h", "2h", "6h", "1d", "3d", "period"]
