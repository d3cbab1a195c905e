"""Lineage query benchmarks for issue 3: `python -m bench.lineage --help`."""
