"""A synthetic data estate with the shape of a real one, as OpenLineage events.

Shape (for 100k datasets; everything scales with the dataset count):
- domains of ~1,000 datasets (sales, finance, ...), each a layered DAG: raw sources at
  layer 0, then staging, intermediate, marts, reports; a job at layer L mostly reads the
  layer below and sometimes skips further down (fan-in), and writes 1-3 tables (fan-out);
- 5% of reads cross into another domain's lower layers, as shared tables do;
- a few hubs (core dimensions) read by 1,000-2,500 jobs across all domains;
- some tables written by two jobs (backfill + incremental), some jobs that read nothing
  (extractors), jobs and tables with owners.
About 2 edges per job on each side: 50k jobs give ~200k job–dataset edges.

Everything is drawn from a seeded RNG, so a size always yields the same estate.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

DOMAINS = ("sales", "finance", "marketing", "product", "support", "logistics", "hr", "risk",
           "growth", "billing", "search", "ads", "payments", "identity", "inventory", "pricing")
ENTITIES = ("orders", "customers", "payments", "sessions", "events", "invoices", "products",
            "shipments", "tickets", "accounts", "refunds", "clicks", "campaigns", "users",
            "subscriptions", "devices", "stores", "carts", "reviews", "returns")
LAYERS = ("raw", "staging", "clean", "int", "agg", "mart", "report", "export")
NAMESPACES = ("postgres://warehouse:5432", "s3://lake", "bigquery", "snowflake://acme")
PRODUCER = "https://github.com/dataslo/dataslo/bench/lineage"
RUN_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Estate:
    datasets: list[tuple[str, str]] = field(default_factory=list)  # (namespace, name)
    layer: list[int] = field(default_factory=list)
    domain: list[int] = field(default_factory=list)
    # Per job: (namespace, name, input dataset indexes, output dataset indexes, owner)
    jobs: list[tuple[str, str, list[int], list[int], str]] = field(default_factory=list)
    hubs: list[int] = field(default_factory=list)

    @property
    def edge_count(self) -> int:
        return sum(len(i) + len(o) for _, _, i, o, _ in self.jobs)

    def node_id(self, ds: int) -> str:
        ns, name = self.datasets[ds]
        return f"dataset:{ns}:{name}"


def build(n_datasets: int, seed: int = 7) -> Estate:
    rng = random.Random(seed)
    est = Estate()
    n_domains = max(2, n_datasets // 1000)
    n_jobs = n_datasets // 2
    by_domain_layer: dict[tuple[int, int], list[int]] = {}

    def new_dataset(dom: int, layer: int) -> int:
        idx = len(est.datasets)
        entity = ENTITIES[rng.randrange(len(ENTITIES))]
        name = f"{DOMAINS[dom % len(DOMAINS)]}{dom // len(DOMAINS)}.{LAYERS[layer]}.{entity}_{idx}"
        est.datasets.append((NAMESPACES[dom % len(NAMESPACES)], name))
        est.layer.append(layer)
        est.domain.append(dom)
        by_domain_layer.setdefault((dom, layer), []).append(idx)
        return idx

    # Raw sources: ~10% of datasets, spread over domains.
    for i in range(n_datasets // 10):
        new_dataset(i % n_domains, 0)
    # Jobs per domain and layer, heavier in the middle layers, written in layer order so a
    # job's inputs exist (and have been written) before it runs.
    weights = [0, 3, 3, 3, 2, 2, 1, 1]
    plan = []
    for j in range(n_jobs):
        dom = j % n_domains
        layer = rng.choices(range(1, len(LAYERS)), weights=weights[1:])[0]
        plan.append((layer, dom, j))
    plan.sort()
    for layer, dom, j in plan:
        outputs = [new_dataset(dom, layer) for _ in range(rng.choices((1, 2, 3), (4, 4, 2))[0])]
        inputs: set[int] = set()
        if rng.random() > 0.03:  # 3% are extractors that read nothing we know
            for _ in range(rng.choices((1, 2, 3, 4), (3, 4, 2, 1))[0]):
                src_dom = dom if rng.random() > 0.05 else rng.randrange(n_domains)
                src_layer = layer - 1 if rng.random() < 0.7 else rng.randrange(0, layer)
                pool = by_domain_layer.get((src_dom, src_layer)) or by_domain_layer.get((src_dom, 0))
                if pool:
                    inputs.add(pool[rng.randrange(len(pool))])
        owner = f"team:{DOMAINS[dom % len(DOMAINS)]}-{rng.randrange(4)}"
        job_name = f"{DOMAINS[dom % len(DOMAINS)]}{dom // len(DOMAINS)}_dag.{LAYERS[layer]}_{j}"
        est.jobs.append((f"airflow-{dom % 8}", job_name, sorted(inputs), outputs, owner))
    # Hubs: core dimensions at layer 1, read by 1,000-2,500 jobs per 100k datasets.
    layer1 = [i for i, lay in enumerate(est.layer) if lay == 1]
    est.hubs = rng.sample(layer1, min(8, len(layer1)))
    scale = n_datasets / 100_000
    for h, hub in enumerate(est.hubs):
        consumers = int((1000 + 250 * h) * scale)
        eligible = [j for j in rng.sample(range(len(est.jobs)), min(len(est.jobs), consumers * 3))
                    if est.layer[est.jobs[j][3][0]] >= 2][:consumers]
        for j in eligible:
            ns, name, ins, outs, owner = est.jobs[j]
            if hub not in ins:
                est.jobs[j] = (ns, name, sorted([*ins, hub]), outs, owner)
    # 1% of jobs also write a table another job writes (backfill next to incremental).
    for j in rng.sample(range(len(est.jobs)), len(est.jobs) // 100):
        ns, name, ins, outs, owner = est.jobs[j]
        same = by_domain_layer[(est.domain[outs[0]], est.layer[outs[0]])]
        extra = same[rng.randrange(len(same))]
        if extra not in outs and extra not in ins:
            est.jobs[j] = (ns, name, ins, [*outs, extra], owner)
    return est


def _dataset(est: Estate, idx: int, output: bool) -> dict:
    ns, name = est.datasets[idx]
    facets: dict = {}
    if output:
        facets["schema"] = {"_producer": PRODUCER, "_schemaURL": RUN_URL, "fields": [
            {"name": "id", "type": "BIGINT"}, {"name": "updated_at", "type": "TIMESTAMP"},
            {"name": f"metric_{idx % 7}", "type": "DOUBLE"}]}
    return {"namespace": ns, "name": name, "facets": facets}


def events(est: Estate) -> Iterator[dict]:
    """One COMPLETE RunEvent per job, in the order the jobs ran."""
    for j, (ns, name, ins, outs, owner) in enumerate(est.jobs):
        run_id = str(uuid.UUID(int=random.Random(j).getrandbits(128), version=4))
        yield {
            "eventType": "COMPLETE",
            "eventTime": (T0 + timedelta(seconds=j)).isoformat(),
            "producer": PRODUCER,
            "schemaURL": RUN_URL,
            "run": {"runId": run_id, "facets": {}},
            "job": {"namespace": ns, "name": name, "facets": {
                "ownership": {"_producer": PRODUCER, "_schemaURL": RUN_URL,
                              "owners": [{"name": owner, "type": "TEAM"}]}}},
            "inputs": [_dataset(est, i, False) for i in ins],
            "outputs": [_dataset(est, o, True) for o in outs],
        }
