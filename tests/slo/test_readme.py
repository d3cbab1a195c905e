"""The SLO examples in the README are valid documents."""

from __future__ import annotations

import re
from pathlib import Path

from app.slo.loader import load_slo_documents

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_slo_examples_load():
    section = README.read_text().split("## SLOs", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)
    slos = [slo for block in blocks for slo in load_slo_documents(block, "README.md")]
    assert [s.name for s in slos] == ["orders-fresh", "nightly-load-success", "critical-tables-volume",
                                      "orders-fresh"]
    native, openslo = slos[0], slos[3]
    assert openslo.model_dump(exclude={"labels"}) == native.model_dump(exclude={"labels"})
