"""Realistic OpenLineage traffic, generated once and rendered cheaply many times.

The estate looks like an Airflow deployment: `dags` DAGs of tasks (a few hundred jobs in
all), a few hundred datasets across a warehouse, a lake and a BI namespace, each with a
fixed schema. Every DAG runs `runs_per_day` times a day; each DAG run sends START, then
each task sends START and later COMPLETE (a few FAIL with an error message) with a
`parent` facet pointing at the DAG run, then the DAG run sends COMPLETE. Task events carry
`nominalTime`, `jobType`, `sql`, `schema` and `dataSource` facets; COMPLETE events add
`outputStatistics` (row count and size) and, for SQL tasks, `columnLineage`.

One simulated day is built once as JSON templates (sorted by eventTime) with two
fixed-width placeholders: the day number inside every run id and the date inside every
eventTime. Rendering day N is then two `bytes.replace` calls, so the load generator can
produce millions of distinct events (new run ids and times every day) at almost no cost.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import orjson

EPOCH_MARK = b"@@EPCH@@"  # 8 chars: replaced by the day number as 8 hex digits (run ids)
DATE_MARK = b"@@DATE@@@@"  # 10 chars: replaced by the ISO date (event times)
BASE_DATE = date(2024, 1, 1)

PRODUCER = "https://github.com/apache/airflow/tree/providers-openlineage/1.14.0"
SPEC = "https://openlineage.io/spec"
RUN_EVENT_SCHEMA = f"{SPEC}/2-0-2/OpenLineage.json#/$defs/RunEvent"
JOB_NAMESPACE = "airflow-prod"
DATASET_NAMESPACES = ("postgres://warehouse.internal:5432", "s3://acme-lake", "bigquery")
FIELD_TYPES = ("INTEGER", "BIGINT", "VARCHAR", "TIMESTAMP", "DECIMAL(18,2)", "BOOLEAN", "DATE", "JSONB")


def _facet(facet_type: str, **fields) -> dict:
    schema = f"{SPEC}/facets/1-0-1/{facet_type}.json#/$defs/{facet_type}"
    return {"_producer": PRODUCER, "_schemaURL": schema, **fields}


@dataclass(frozen=True)
class Dataset:
    namespace: str
    name: str
    fields: tuple[tuple[str, str], ...]

    def ref(self, facets: bool = True) -> dict:
        out: dict = {"namespace": self.namespace, "name": self.name}
        if facets:
            out["facets"] = {
                "schema": _facet("SchemaDatasetFacet", fields=[{"name": n, "type": t} for n, t in self.fields]),
                "dataSource": _facet("DatasourceDatasetFacet", name=self.namespace, uri=self.namespace),
            }
        return out


@dataclass(frozen=True)
class Task:
    index: int
    dag: int
    name: str
    inputs: tuple[int, ...]
    output: int
    sql: str | None


@dataclass(frozen=True)
class TemplateEvent:
    """One event of the simulated day, with the keys a correctness check needs."""

    body: bytes
    run_key: tuple[bytes, str]  # (run id template, job name)
    terminal: bool  # COMPLETE or FAIL


class Estate:
    """Jobs, DAGs and datasets with fixed lineage; `day()` builds one day of events."""

    def __init__(self, tasks: int = 300, datasets: int = 400, tasks_per_dag: int = 10,
                 runs_per_day: int = 4, seed: int = 20240101) -> None:
        if datasets <= tasks:
            raise ValueError("need more datasets than tasks: each task writes its own output")
        self.rng = random.Random(seed)
        self.runs_per_day = runs_per_day
        rng = self.rng
        self.datasets = []
        for i in range(datasets):
            ns = DATASET_NAMESPACES[i % len(DATASET_NAMESPACES)]
            n_fields = rng.randint(4, 16)
            fields = tuple((f"col_{j}_{rng.choice(('id', 'amount', 'ts', 'name', 'code'))}",
                            rng.choice(FIELD_TYPES)) for j in range(n_fields))
            self.datasets.append(Dataset(ns, f"analytics.schema_{i % 7}.table_{i:04d}", fields))
        self.dags = (tasks + tasks_per_dag - 1) // tasks_per_dag
        self.tasks = []
        n_sources = datasets - tasks
        for i in range(tasks):
            dag = i // tasks_per_dag
            output = n_sources + i  # dataset written by this task alone
            # Read 1-3 datasets: raw sources or outputs of earlier tasks (a DAG of tables).
            pool = list(range(output))
            inputs = tuple(sorted(set(rng.sample(pool, rng.randint(1, min(3, len(pool)))))))
            sql = None
            if rng.random() < 0.6:
                cols = ", ".join(n for n, _ in self.datasets[output].fields)
                srcs = " JOIN ".join(self.datasets[d].name for d in inputs)
                sql = f"INSERT INTO {self.datasets[output].name} SELECT {cols} FROM {srcs}"
            self.tasks.append(Task(i, dag, f"dag_{dag:03d}.task_{i:04d}", inputs, output, sql))

    @property
    def job_count(self) -> int:
        return len(self.tasks) + self.dags

    # -- one simulated day ---------------------------------------------------------------
    def day(self) -> list[TemplateEvent]:
        rng = random.Random(self.rng.random())
        timed: list[tuple[float, int, TemplateEvent]] = []
        seq = 0
        by_dag: dict[int, list[Task]] = {}
        for t in self.tasks:
            by_dag.setdefault(t.dag, []).append(t)
        slot_seconds = 86_400 / self.runs_per_day
        for slot in range(self.runs_per_day):
            for dag, tasks in by_dag.items():
                start = slot * slot_seconds + rng.uniform(0, slot_seconds / 4)
                dag_job = f"dag_{dag:03d}"
                dag_run = _run_id(1, dag, slot)
                nominal = _fmt(slot * slot_seconds)
                run_facets = {"nominalTime": _facet("NominalTimeRunFacet", nominalStartTime=nominal)}
                job_facets = {
                    "jobType": _facet("JobTypeJobFacet", processingType="BATCH", integration="AIRFLOW",
                                      jobType="DAG"),
                    "ownership": _facet("OwnershipJobFacet", owners=[{"name": f"team-{dag % 5}", "type": "TEAM"}]),
                }
                timed.append((start, seq, _event("START", start, dag_run, dag_job, run_facets, job_facets)))
                seq += 1
                t = start + rng.uniform(1, 30)
                end = t
                for task in tasks:
                    run = _run_id(0, task.index, slot)
                    duration = rng.uniform(20, 900)
                    parent = _facet(
                        "ParentRunFacet",
                        run={"runId": dag_run.decode()}, job={"namespace": JOB_NAMESPACE, "name": dag_job},
                    )
                    run_facets = {"parent": parent,
                                  "nominalTime": _facet("NominalTimeRunFacet", nominalStartTime=nominal)}
                    job_facets = {"jobType": _facet("JobTypeJobFacet", processingType="BATCH",
                                                    integration="AIRFLOW", jobType="TASK")}
                    if task.sql:
                        job_facets["sql"] = _facet("SQLJobFacet", query=task.sql)
                    inputs = [self.datasets[d].ref() for d in task.inputs]
                    output = self.datasets[task.output]
                    timed.append((t, seq, _event("START", t, run, task.name, run_facets, job_facets,
                                                 inputs, [output.ref()])))
                    seq += 1
                    failed = rng.random() < 0.02
                    out = output.ref()
                    if not failed:
                        rows = rng.randint(1_000, 50_000_000)
                        out["outputFacets"] = {"outputStatistics": _facet(
                            "OutputStatisticsOutputDatasetFacet", rowCount=rows,
                            size=rows * rng.randint(40, 400), fileCount=rng.randint(1, 64))}
                        if task.sql:
                            out["facets"]["columnLineage"] = _column_lineage(output, [self.datasets[d] for d in task.inputs], rng)
                    else:
                        run_facets = {**run_facets, "errorMessage": _facet(
                            "ErrorMessageRunFacet", message="psycopg.errors.DiskFull: could not extend file",
                            programmingLanguage="python")}
                    done = t + duration
                    timed.append((done, seq, _event("FAIL" if failed else "COMPLETE", done, run, task.name,
                                                    run_facets, job_facets, inputs, [out])))
                    seq += 1
                    end = max(end, done)
                    t += rng.uniform(10, 240)  # the next task starts while this one may still run
                dag_end = end + rng.uniform(1, 20)
                run_facets = {"nominalTime": _facet("NominalTimeRunFacet", nominalStartTime=nominal)}
                timed.append((dag_end, seq, _event("COMPLETE", dag_end, dag_run, dag_job, run_facets, job_facets)))
                seq += 1
        timed.sort(key=lambda x: (x[0], x[1]))
        return [e for _, _, e in timed]


def _run_id(kind: int, index: int, slot: int) -> bytes:
    # epoch(8 hex) - index(4) - 4 slot(3) - 8 kind(3) - 12 hex: a valid version-4 UUID.
    return EPOCH_MARK + b"-%04x-4%03x-8%03x-%012x" % (index, slot, kind, index * 7919 + slot)


def _fmt(seconds: float) -> str:
    seconds = min(seconds, 86_399.999)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{DATE_MARK.decode()}T{int(h):02d}:{int(m):02d}:{s:09.6f}+00:00"


def _event(event_type: str, at: float, run_id: bytes, job: str, run_facets: dict, job_facets: dict,
           inputs: list | None = None, outputs: list | None = None) -> TemplateEvent:
    body = {
        "eventType": event_type,
        "eventTime": _fmt(at),
        "run": {"runId": run_id.decode(), "facets": run_facets},
        "job": {"namespace": JOB_NAMESPACE, "name": job, "facets": job_facets},
        "inputs": inputs or [],
        "outputs": outputs or [],
        "producer": PRODUCER,
        "schemaURL": RUN_EVENT_SCHEMA,
    }
    return TemplateEvent(orjson.dumps(body), (run_id, job), event_type in ("COMPLETE", "FAIL"))


def _column_lineage(output: Dataset, inputs: list[Dataset], rng: random.Random) -> dict:
    fields = {}
    for name, _ in output.fields[:6]:
        src = rng.choice(inputs)
        fields[name] = {"inputFields": [{
            "namespace": src.namespace, "name": src.name, "field": rng.choice(src.fields)[0],
            "transformations": [{"type": "DIRECT", "subtype": "IDENTITY"}],
        }]}
    return _facet("ColumnLineageDatasetFacet", fields=fields)


def day_date(epoch: int) -> bytes:
    return (BASE_DATE + timedelta(days=epoch)).isoformat().encode()


def render(template: bytes, epoch: int) -> bytes:
    return template.replace(EPOCH_MARK, b"%08x" % epoch).replace(DATE_MARK, day_date(epoch))


class Split:
    """A template cut at its placeholders once, so rendering is two joins (megabytes/ms)."""

    __slots__ = ("parts",)

    def __init__(self, template: bytes) -> None:
        self.parts = [p.split(DATE_MARK) for p in template.split(EPOCH_MARK)]

    def render(self, epoch: int) -> bytes:
        d = day_date(epoch)
        return (b"%08x" % epoch).join([d.join(p) for p in self.parts])


class Traffic:
    """An endless stream of distinct events: day 0, day 1, ... of the same estate."""

    def __init__(self, estate: Estate | None = None) -> None:
        self.estate = estate or Estate()
        self.day = self.estate.day()
        self._batch_cache: dict[tuple[int, int], Split] = {}

    @property
    def events_per_day(self) -> int:
        return len(self.day)

    def events(self, count: int, start: int = 0) -> Iterator[tuple[bytes, TemplateEvent, int]]:
        """Events number start .. start+count-1 of the stream: (body, template, day)."""
        per_day = len(self.day)
        for i in range(start, start + count):
            epoch, k = divmod(i, per_day)
            t = self.day[k]
            yield render(t.body, epoch), t, epoch

    def batches(self, count: int, size: int, start: int = 0) -> Iterator[tuple[bytes, int]]:
        """JSON arrays of up to `size` events covering events start .. start+count-1."""
        per_day = len(self.day)
        i, end = start, start + count
        while i < end:
            epoch, k = divmod(i, per_day)
            n = min(size, end - i, per_day - k)  # a batch never spans two days: one render
            split = self._batch_cache.get((k, n))
            if split is None:
                body = b"[" + b",".join(t.body for t in self.day[k : k + n]) + b"]"
                split = self._batch_cache[(k, n)] = Split(body)
            yield split.render(epoch), n
            i += n

    def expected(self, count: int, start: int = 0) -> dict[str, int]:
        """What the store must hold after events start .. start+count-1 were ingested once."""
        per_day = len(self.day)
        runs: set[tuple[int, bytes, str]] = set()
        ended: set[tuple[int, bytes, str]] = set()
        for i in range(start, start + count):
            epoch, k = divmod(i, per_day)
            t = self.day[k]
            key = (epoch, *t.run_key)
            runs.add(key)
            if t.terminal:
                ended.add(key)
        return {"events": count, "runs": len(runs), "ended_runs": len(ended)}


def check_uuid_format() -> None:
    """Run ids rendered from the templates must be UUIDs (the server requires it)."""
    uuid.UUID(render(_run_id(0, 1, 2), 3).decode())
