"""Validation of incoming OpenLineage events.

Lenient on purpose, like Marquez: require what the spec requires (eventTime, producer,
schemaURL, run.runId as a UUID, job and dataset namespace/name), keep every facet we do
not know, and tolerate what real producers send (`"_deleted": null`, no eventType,
dataQualityAssertions under `facets` or `inputFacets`). Facets stay open dicts.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

EventType = Literal["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"]
# Bytes, not characters: these land in unique btree indexes (PostgreSQL caps entries at ~2.7 kB).
NAMESPACE_MAX_BYTES = 512
NAME_MAX_BYTES = 1024


def _bounded(value: str, limit: int) -> str:
    if not value:
        raise ValueError("must not be empty")
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    if len(value.encode("utf-8", "surrogatepass")) > limit:
        raise ValueError(f"must be at most {limit} bytes in UTF-8")
    return value


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=False)


def _clean_facets(value: Any) -> dict[str, Any]:
    """Drop facets that are not objects or are marked `_deleted: true`; keep the rest as sent."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError("facets must be an object")
    return {k: v for k, v in value.items() if isinstance(v, dict) and v.get("_deleted") is not True}


FacetMap = Annotated[dict[str, Any], BeforeValidator(_clean_facets)]


class _WithFacets(_Open):
    facets: FacetMap = Field(default_factory=dict)


class RunRef(_WithFacets):
    runId: uuid.UUID


class _Named(_WithFacets):
    namespace: Annotated[str, AfterValidator(lambda v: _bounded(v, NAMESPACE_MAX_BYTES))]
    name: Annotated[str, AfterValidator(lambda v: _bounded(v, NAME_MAX_BYTES))]


class JobRef(_Named):
    pass


class DatasetRef(_Named):
    pass


class InputDataset(DatasetRef):
    inputFacets: FacetMap = Field(default_factory=dict)


class OutputDataset(DatasetRef):
    outputFacets: FacetMap = Field(default_factory=dict)


class _BaseEvent(_Open):
    eventTime: datetime
    producer: str = Field(min_length=1)
    schemaURL: str = Field(min_length=1)

    @field_validator("eventTime")
    @classmethod
    def _utc(cls, v: datetime) -> datetime:
        # A naive timestamp is taken as UTC rather than rejected: some producers omit the zone.
        return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)


def _none_is_empty(value: Any) -> Any:
    return [] if value is None else value


# Producers send `"inputs": null`; that means no datasets, not an error.
Inputs = Annotated[list[InputDataset], BeforeValidator(_none_is_empty)]
Outputs = Annotated[list[OutputDataset], BeforeValidator(_none_is_empty)]


class JobEvent(_BaseEvent):
    job: JobRef
    inputs: Inputs = Field(default_factory=list)
    outputs: Outputs = Field(default_factory=list)


class RunEvent(JobEvent):
    # Missing eventType is treated as RUNNING, as Marquez does; it can never reopen a run.
    eventType: EventType | None = None
    run: RunRef


class DatasetEvent(_BaseEvent):
    dataset: DatasetRef


AnyEvent = RunEvent | JobEvent | DatasetEvent


class EventError(Exception):
    """An event that can never be stored as sent: the client must fix it, not retry."""

    def __init__(self, problems: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{p['path']}: {p['reason']}" for p in problems))
        self.problems = problems


def _path(loc: tuple[Any, ...]) -> str:
    out = "$"
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def _kind_of(raw: dict[str, Any]) -> type[AnyEvent]:
    """Pick the event kind the way Marquez does (schemaURL suffix), then by shape."""
    schema_url = raw.get("schemaURL")
    if isinstance(schema_url, str):
        for suffix, kind in (("DatasetEvent", DatasetEvent), ("JobEvent", JobEvent), ("RunEvent", RunEvent)):
            if schema_url.endswith(suffix):
                return kind
    if "dataset" in raw and "run" not in raw:
        return DatasetEvent
    if "job" in raw and "run" not in raw and "eventType" not in raw:
        return JobEvent
    return RunEvent


class ParsedEvent:
    """A validated event plus what idempotency and auditing need: its canonical JSON
    (sorted keys, compact), stored as the raw event, and that text's sha256."""

    __slots__ = ("canonical", "event", "hash")

    def __init__(self, event: AnyEvent, canonical: bytes) -> None:
        self.event = event
        self.canonical = canonical
        self.hash = hashlib.sha256(canonical).hexdigest()

    @property
    def kind(self) -> str:
        return type(self.event).__name__


def parse_event(raw: Any) -> ParsedEvent:
    if not isinstance(raw, dict):
        raise EventError([{"path": "$", "reason": "an event must be a JSON object"}])
    kind = _kind_of(raw)
    try:
        event = kind.model_validate(raw)
    except ValidationError as exc:
        raise EventError(
            [{"path": _path(err["loc"]), "reason": err["msg"]} for err in exc.errors(include_url=False)]
        ) from None
    # The same event sent twice, whatever its key order or spacing, has one canonical form.
    canonical = orjson.dumps(raw, option=orjson.OPT_SORT_KEYS)
    if b"\\u0000" in canonical:
        # PostgreSQL text and JSONB cannot hold NUL; refuse rather than store half an event.
        raise EventError([{"path": "$", "reason": "NUL characters (\\u0000) are not supported"}])
    return ParsedEvent(event, canonical)
