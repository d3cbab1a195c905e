"""Reading standard facets into plain values.

Producers disagree on details (dbt nests assertions under `inputFacets`, Airflow puts
owners on the job, Spark sends schema on every event), so each reader takes whatever
shape the spec allows and returns None when the facet says nothing usable.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# Strings that land in indexed columns are bounded in bytes: a PostgreSQL btree entry
# cannot exceed ~2.7 kB, and one absurd facet must not fail the whole event.
KEY_BYTES = 512
_INT64 = 2**63


def _str(value: Any, max_bytes: int | None = None) -> str | None:
    if not isinstance(value, str) or value == "":
        return None
    if max_bytes is not None and len(value.encode("utf-8", "surrogatepass")) > max_bytes:
        return None
    return value


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and -_INT64 < value < _INT64:
        return value
    return None


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def schema_fields(facets: dict[str, Any]) -> list[dict[str, Any]] | None:
    schema = facets.get("schema")
    if not schema or not isinstance(schema.get("fields"), list):
        return None
    fields = []
    for field in schema["fields"]:
        if isinstance(field, dict) and _str(field.get("name"), KEY_BYTES):
            fields.append(
                {
                    "name": field["name"],
                    "type": _str(field.get("type"), KEY_BYTES),
                    "description": _str(field.get("description")),
                }
            )
    return fields


def owners(facets: dict[str, Any]) -> list[dict[str, Any]] | None:
    ownership = facets.get("ownership")
    if not ownership or not isinstance(ownership.get("owners"), list):
        return None
    return [
        {"name": o["name"], "type": _str(o.get("type"))}
        for o in ownership["owners"]
        if isinstance(o, dict) and _str(o.get("name"))
    ]


def tags(facets: dict[str, Any]) -> list[dict[str, Any]] | None:
    facet = facets.get("tags")
    if not facet or not isinstance(facet.get("tags"), list):
        return None
    return [
        {"key": t["key"], "value": t.get("value"), "source": _str(t.get("source"))}
        for t in facet["tags"]
        if isinstance(t, dict) and _str(t.get("key"))
    ]


def description(facets: dict[str, Any]) -> str | None:
    doc = facets.get("documentation")
    return _str(doc.get("description")) if doc else None


def symlinks(facets: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    facet = facets.get("symlinks")
    if not facet or not isinstance(facet.get("identifiers"), list):
        return []
    return [
        (i["namespace"], i["name"], _str(i.get("type")))
        for i in facet["identifiers"]
        if isinstance(i, dict) and _str(i.get("namespace"), KEY_BYTES) and _str(i.get("name"), 1024)
    ]


def lifecycle_state(facets: dict[str, Any]) -> str | None:
    facet = facets.get("lifecycleStateChange")
    return _str(facet.get("lifecycleStateChange"), 32) if facet else None


@dataclass(frozen=True)
class OutputStats:
    row_count: int | None
    byte_size: int | None
    file_count: int | None


def output_statistics(output_facets: dict[str, Any]) -> OutputStats | None:
    stats = output_facets.get("outputStatistics")
    if not stats:
        return None
    return OutputStats(_int(stats.get("rowCount")), _int(stats.get("size")), _int(stats.get("fileCount")))


def quality_metrics(input_facets: dict[str, Any]) -> dict[str, Any] | None:
    metrics = input_facets.get("dataQualityMetrics")
    if not metrics:
        return None
    columns = metrics.get("columnMetrics")
    return {
        "row_count": _int(metrics.get("rowCount")),
        "byte_size": _int(metrics.get("bytes")),
        "file_count": _int(metrics.get("fileCount")),
        "column_metrics": columns if isinstance(columns, dict) else None,
    }


@dataclass(frozen=True)
class Assertion:
    assertion: str
    column: str
    success: bool
    severity: str | None


def assertions(*facet_dicts: dict[str, Any]) -> list[Assertion]:
    """dataQualityAssertions from any of the given facet maps (dbt sends both), deduplicated."""
    seen: dict[tuple[str, str], Assertion] = {}
    for facets in facet_dicts:
        facet = facets.get("dataQualityAssertions")
        if not facet or not isinstance(facet.get("assertions"), list):
            continue
        for a in facet["assertions"]:
            if not isinstance(a, dict) or not _str(a.get("assertion"), KEY_BYTES):
                continue
            if not isinstance(a.get("success"), bool):
                continue
            item = Assertion(
                a["assertion"], _str(a.get("column"), KEY_BYTES) or "", a["success"],
                _str(a.get("severity"), 32),
            )
            seen[(item.assertion, item.column)] = item
    return list(seen.values())


def run_tests(run_facets: dict[str, Any]) -> list[Assertion]:
    """The `test` run facet (dbt tests): skipped tests say nothing about quality."""
    facet = run_facets.get("test")
    if not facet or not isinstance(facet.get("tests"), list):
        return []
    out = []
    for t in facet["tests"]:
        if not isinstance(t, dict) or not _str(t.get("name"), KEY_BYTES):
            continue
        status = str(t.get("status", "")).lower()
        if status not in ("pass", "fail"):
            continue
        out.append(Assertion(t["name"], "", status == "pass", _str(t.get("severity"), 32)))
    return out


@dataclass(frozen=True)
class ColumnEdge:
    output_field: str  # '' for a dataset-level dependency
    input_namespace: str
    input_name: str
    input_field: str
    transformation_type: str
    transformation_subtype: str
    description: str | None
    masking: bool | None


def column_lineage(facets: dict[str, Any]) -> list[ColumnEdge]:
    facet = facets.get("columnLineage")
    if not facet:
        return []
    edges: list[ColumnEdge] = []

    def add(output_field: str, inputs: Any, legacy_type: str | None, legacy_desc: str | None) -> None:
        if not isinstance(inputs, list):
            return
        for inp in inputs:
            if not isinstance(inp, dict):
                continue
            if not (_str(inp.get("namespace"), KEY_BYTES) and _str(inp.get("name"), 1024)):
                continue
            field = _str(inp.get("field"), KEY_BYTES) or ""
            transformations = inp.get("transformations")
            if isinstance(transformations, list) and transformations:
                for t in transformations:
                    if isinstance(t, dict):
                        edges.append(
                            ColumnEdge(
                                output_field, inp["namespace"], inp["name"], field,
                                _str(t.get("type"), 32) or "", _str(t.get("subtype"), 64) or "",
                                _str(t.get("description")),
                                t.get("masking") if isinstance(t.get("masking"), bool) else None,
                            )
                        )
            else:
                # Facet 1-0-x put one transformationType on the output field.
                edges.append(
                    ColumnEdge(output_field, inp["namespace"], inp["name"], field,
                               (legacy_type or "")[:32], "", legacy_desc, None)
                )

    fields = facet.get("fields")
    if isinstance(fields, dict):
        for out_field, spec in fields.items():
            if isinstance(spec, dict) and _str(out_field, KEY_BYTES):
                add(out_field, spec.get("inputFields"), _str(spec.get("transformationType")),
                    _str(spec.get("transformationDescription")))
    add("", facet.get("dataset"), None, None)
    return edges


@dataclass(frozen=True)
class JobAttributes:
    processing_type: str | None
    integration: str | None
    job_type: str | None
    sql: str | None
    source_code_language: str | None
    source_code: str | None
    source_code_url: str | None


def job_attributes(facets: dict[str, Any]) -> JobAttributes:
    job_type = facets.get("jobType") or {}
    sql = facets.get("sql") or {}
    code = facets.get("sourceCode") or {}
    location = facets.get("sourceCodeLocation") or {}
    return JobAttributes(
        _str(job_type.get("processingType"), 32),
        _str(job_type.get("integration"), 128),
        _str(job_type.get("jobType"), 128),
        _str(sql.get("query")),
        _str(code.get("language"), 64),
        _str(code.get("sourceCode")),
        _str(location.get("url")) or _str(location.get("repoUrl")),
    )


@dataclass(frozen=True)
class ParentRef:
    run_uuid: str
    job_namespace: str
    job_name: str


def parent(run_facets: dict[str, Any]) -> ParentRef | None:
    """The `parent` facet (Marquez also accepts the older `parentRun` name)."""
    facet = run_facets.get("parent") or run_facets.get("parentRun")
    if not facet:
        return None
    run, job = facet.get("run"), facet.get("job")
    if not isinstance(run, dict) or not isinstance(job, dict):
        return None
    run_id = _str(run.get("runId"))
    ns, name = _str(job.get("namespace"), KEY_BYTES), _str(job.get("name"), 1024)
    if not (run_id and ns and name):
        return None
    try:
        run_id = str(uuid.UUID(run_id))
    except ValueError:
        return None
    return ParentRef(run_id, ns, name)


def nominal_time(run_facets: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    facet = run_facets.get("nominalTime")
    if not facet:
        return None, None
    return parse_time(facet.get("nominalStartTime")), parse_time(facet.get("nominalEndTime"))


def error_message(run_facets: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    facet = run_facets.get("errorMessage")
    if not facet:
        return None, None, None
    return (
        _str(facet.get("message")),
        _str(facet.get("programmingLanguage"), 64),
        _str(facet.get("stackTrace")),
    )
