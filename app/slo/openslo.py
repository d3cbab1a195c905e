"""OpenSLO v1 documents in and out.

A dataslo SLI travels as a metric source of `type: dataslo` whose `spec` holds flat
string keys (OpenSLO's reference model types `metricSource.spec` as a map of
strings). Settings OpenSLO has no field for (owner, tier, min-events, burn-rate
alerts) travel as `dataslo.io/...` annotations, which OpenSLO keeps as free text.

Import converts to the native form and records where each native field came from,
so a validation error is reported at the OpenSLO key the user actually wrote.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.slo.definitions import AlertSpec, CalendarSpec, SLODefinition
from app.slo.fields import fraction_out, to_fraction
from app.slo.windows import format_duration

Loc = tuple[str | int, ...]
SOURCE_TYPE = "dataslo"
ANNOTATION = "dataslo.io/"


class _O(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OMetadata(_O):
    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
    displayName: str | None = None
    labels: dict[str, str | list[str]] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class OMetricSource(_O):
    metricSourceRef: str | None = None
    type: str | None = None
    spec: dict[str, Any] = Field(default_factory=dict)


class OMetric(_O):
    metricSource: OMetricSource


class ORatioMetric(_O):
    counter: bool | None = None
    good: OMetric | None = None
    bad: OMetric | None = None
    total: OMetric | None = None
    rawType: str | None = None
    raw: OMetric | None = None


class OSLISpec(_O):
    description: str | None = None
    thresholdMetric: OMetric | None = None
    ratioMetric: ORatioMetric | None = None


class OIndicator(_O):
    metadata: OMetadata
    spec: OSLISpec


class OCalendar(_O):
    startTime: datetime | str
    timeZone: str


class OTimeWindow(_O):
    duration: str
    isRolling: bool | None = None
    calendar: OCalendar | None = None


class OObjective(_O):
    displayName: str | None = None
    op: str | None = None
    value: Any = None
    target: Any = None
    timeSliceTarget: Any = None
    timeSliceWindow: str | None = None


class OSLOSpec(_O):
    description: str | None = None
    service: str | None = None
    indicator: OIndicator | None = None
    indicatorRef: str | None = None
    budgetingMethod: Literal["Occurrences", "Timeslices", "RatioTimeslices"]
    timeWindow: list[OTimeWindow] = Field(min_length=1, max_length=1)
    objectives: list[OObjective] = Field(min_length=1)
    alertPolicies: list[Any] = Field(default_factory=list)


class OSLO(_O):
    apiVersion: Literal["openslo/v1"]
    kind: Literal["SLO"]
    metadata: OMetadata
    spec: OSLOSpec


class OSLI(_O):
    apiVersion: Literal["openslo/v1"]
    kind: Literal["SLI"]
    metadata: OMetadata
    spec: OSLISpec


# Kinds that may share a file with SLOs; dataslo has no use for them and skips them.
IGNORED_KINDS = frozenset(
    {"Service", "DataSource", "AlertPolicy", "AlertCondition", "AlertNotificationTarget"}
)

# Flat metric-source keys and the native field each one fills.
SPEC_KEYS: dict[str, Loc] = {
    "sli": ("sli", "kind"),
    "datasetNamespace": ("target", "dataset", "namespace"),
    "datasetName": ("target", "dataset", "name"),
    "jobNamespace": ("target", "job", "namespace"),
    "jobName": ("target", "job", "name"),
    "selectorNamespace": ("target", "selector", "namespace"),
    "selectorTags": ("target", "selector", "tags"),
    "selectorOwner": ("target", "selector", "owner"),
    "maxAge": ("sli", "max_age"),
    "deadlineCron": ("sli", "deadline", "cron"),
    "deadlineTimeZone": ("sli", "deadline", "timezone"),
    "deadlineLookback": ("sli", "deadline", "lookback"),
    "minRows": ("sli", "min_rows"),
    "medianFraction": ("sli", "median_fraction"),
    "medianVersions": ("sli", "versions"),
    "scheduleCron": ("sli", "schedule", "cron"),
    "scheduleTimeZone": ("sli", "schedule", "timezone"),
    "scheduleGrace": ("sli", "schedule", "grace"),
    "assertions": ("sli", "assertions"),
    "threshold": ("sli", "threshold"),
}
LIST_KEYS = frozenset({"selectorTags", "assertions"})
ANNOTATION_KEYS: dict[str, Loc] = {
    "owner": ("owner",),
    "tier": ("tier",),
    "min-events": ("min_events",),
    "alerts": ("alerts",),
}
# OpenSLO's rolling durations in M, Q and Y have fixed lengths in its reference code.
_ROLLING_UNITS = {"M": 30, "Q": 90, "Y": 365}
_ALERT_RE = re.compile(r"^(page|ticket)\s+(\S+)/(\S+)\s+(\S+?)(x|%)$")


class Converted:
    """A native document plus where each of its fields came from in the OpenSLO one."""

    def __init__(self) -> None:
        self.native: dict[str, Any] = {}
        self.origin: dict[Loc, Loc] = {}
        self.errors: list[tuple[Loc, str]] = []

    def put(self, native: Loc, value: Any, source: Loc) -> None:
        node = self.native
        for part in native[:-1]:
            node = node.setdefault(part, {})
        node[native[-1]] = value
        self.origin[native] = source

    def source_of(self, native: Loc) -> Loc:
        """The OpenSLO location of the longest native prefix that was placed."""
        for n in range(len(native), 0, -1):
            if native[:n] in self.origin:
                return self.origin[native[:n]]
        return ()


def slo_to_native(doc: OSLO, slis: Mapping[str, OSLI] | None = None) -> Converted:
    out = Converted()
    meta, spec = doc.metadata, doc.spec
    out.put(("name",), meta.name, ("metadata", "name"))
    for native, value, source in (
        (("display_name",), meta.displayName, ("metadata", "displayName")),
        (("description",), spec.description, ("spec", "description")),
        (("service",), spec.service, ("spec", "service")),
    ):
        if value is not None:
            out.put(native, value, source)
    labels = {k: v if isinstance(v, str) else ",".join(v) for k, v in meta.labels.items()}
    out.put(("labels",), labels, ("metadata", "labels"))
    _annotations(meta.annotations, out)
    _indicator(doc, slis or {}, out)
    _time_window(spec.timeWindow[0], out)
    if spec.budgetingMethod == "RatioTimeslices":
        out.errors.append((("spec", "budgetingMethod"), "RatioTimeslices is not supported"))
    else:
        out.put(("budgeting",), spec.budgetingMethod.lower(), ("spec", "budgetingMethod"))
    _objective(spec.objectives, out)
    return out


def _annotations(annotations: Mapping[str, str], out: Converted) -> None:
    for key, value in annotations.items():
        if not key.startswith(ANNOTATION):
            continue
        source: Loc = ("metadata", "annotations", key)
        field = key[len(ANNOTATION):]
        if field not in ANNOTATION_KEYS:
            known = ", ".join(ANNOTATION + k for k in ANNOTATION_KEYS)
            out.errors.append((source, f"unknown dataslo annotation; known: {known}"))
        elif field == "alerts":
            try:
                out.put(("alerts",), parse_alerts(value), source)
            except ValueError as exc:
                out.errors.append((source, str(exc)))
        else:
            out.put(ANNOTATION_KEYS[field], value, source)


def parse_alerts(text: str) -> list[dict[str, str]]:
    """"page 1h/5m 14.4x; ticket 3d/6h 10%": a factor (x) or a budget share (%)."""
    rows = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        m = _ALERT_RE.match(part)
        if not m:
            raise ValueError(f"cannot read alert {part!r}; expected e.g. 'page 1h/5m 14.4x'")
        severity, long, short, number, unit = m.groups()
        key = "factor" if unit == "x" else "budget_share"
        rows.append({"severity": severity, "long": long, "short": short,
                     key: number if unit == "x" else number + "%"})
    return rows


def format_alerts(alerts: list[AlertSpec]) -> str:
    parts = []
    for a in alerts:
        windows = f"{format_duration(a.long)}/{format_duration(a.short)}"
        if a.factor is not None:
            amount = f"{_number(a.factor)}x"
        else:
            amount = f"{_number(a.budget_share * 100)}%"
        parts.append(f"{a.severity} {windows} {amount}")
    return "; ".join(parts)


def _number(value: Any) -> str:
    return str(fraction_out(to_fraction(value)))


def _indicator(doc: OSLO, slis: Mapping[str, OSLI], out: Converted) -> None:
    spec = doc.spec
    if (spec.indicator is None) == (spec.indicatorRef is None):
        out.errors.append((("spec",), "give exactly one of indicator, indicatorRef"))
        return
    if spec.indicator is not None:
        sli_spec = spec.indicator.spec

        def at(*parts: str | int) -> Loc:
            return ("spec", "indicator", "spec", *parts)
    else:
        found = slis.get(spec.indicatorRef)
        if found is None:
            out.errors.append((("spec", "indicatorRef"),
                               f"no SLI named {spec.indicatorRef!r} among the documents"))
            return
        sli_spec = found.spec

        # The SLI lives in another document: point at the reference to it.
        def at(*parts: str | int) -> Loc:
            return ("spec", "indicatorRef")

    if sli_spec.ratioMetric is not None:
        ratio = sli_spec.ratioMetric
        if ratio.total is None or (ratio.good is None) == (ratio.bad is None):
            reason = "a ratio metric needs total and one of good, bad"
            out.errors.append((at("ratioMetric"), reason))
            return
        for role in ("good", "bad"):
            other = getattr(ratio, role)
            if other is not None and other.metricSource.spec != ratio.total.metricSource.spec:
                out.errors.append((at("ratioMetric", role, "metricSource", "spec"),
                                   f"{role} and total must describe the same dataslo SLI"))
        source, path = ratio.total.metricSource, ("ratioMetric", "total", "metricSource")
    elif sli_spec.thresholdMetric is not None:
        source, path = sli_spec.thresholdMetric.metricSource, ("thresholdMetric", "metricSource")
    else:
        out.errors.append((at(), "the indicator needs a ratioMetric or a thresholdMetric"))
        return
    if source.type != SOURCE_TYPE:
        reason = f"metricSource.type must be {SOURCE_TYPE!r}: dataslo computes its SLIs itself"
        out.errors.append((at(*path, "type"), reason))
        return
    for key, value in source.spec.items():
        loc = at(*path, "spec", key)
        if key not in SPEC_KEYS:
            out.errors.append((loc, f"unknown key; known: {', '.join(SPEC_KEYS)}"))
            continue
        if key in LIST_KEYS and isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        out.put(SPEC_KEYS[key], value, loc)


def _time_window(window: OTimeWindow, out: Converted) -> None:
    base: Loc = ("spec", "timeWindow", 0)
    if window.calendar is not None:
        if window.isRolling:
            out.errors.append((base + ("isRolling",), "a calendar window has isRolling: false"))
            return
        cal = window.calendar
        out.put(("window",), {}, base)
        out.put(("window", "calendar"), window.duration, base + ("duration",))
        out.put(("window", "timezone"), cal.timeZone, base + ("calendar", "timeZone"))
        out.put(("window", "start"), cal.startTime, base + ("calendar", "startTime"))
        return
    if window.isRolling is False:
        out.errors.append((base, "isRolling: false needs calendar.startTime and calendar.timeZone"))
        return
    duration = window.duration
    m = re.match(r"^(\d+)([MQY])$", duration)
    if m:
        duration = f"{int(m.group(1)) * _ROLLING_UNITS[m.group(2)]}d"
    out.put(("window",), duration, base + ("duration",))


def _objective(objectives: list[OObjective], out: Converted) -> None:
    if len(objectives) != 1:
        out.errors.append((("spec", "objectives"),
                           "dataslo evaluates one objective per SLO: split it into several SLOs"))
        return
    obj, base = objectives[0], ("spec", "objectives", 0)
    if obj.op is not None or obj.value is not None:
        out.errors.append((base + ("op" if obj.op is not None else "value",),
                           "op/value belong to threshold metrics; dataslo SLIs are ratios"))
    if obj.target is None:
        out.errors.append((base, "target is required"))
    else:
        out.put(("objective",), obj.target, base + ("target",))
    if obj.timeSliceWindow is not None:
        out.put(("time_slice", "window"), obj.timeSliceWindow, base + ("timeSliceWindow",))
    if obj.timeSliceTarget is not None:
        out.put(("time_slice", "target"), obj.timeSliceTarget, base + ("timeSliceTarget",))


def _flat_spec(slo: SLODefinition) -> dict[str, str]:
    native = slo.model_dump(
        mode="json", exclude_none=True, exclude_defaults=True, include={"sli", "target"}
    )
    flat: dict[str, str] = {}
    for key, loc in SPEC_KEYS.items():
        node: Any = native
        for part in loc:
            node = node.get(part) if isinstance(node, dict) else None
        if node is None or node == []:
            continue
        flat[key] = ",".join(node) if isinstance(node, list) else str(node)
    return flat


def to_openslo(slo: SLODefinition) -> dict[str, Any]:
    """An OpenSLO v1 `kind: SLO` document that imports back to the same SLO."""
    annotations = {ANNOTATION + "alerts": format_alerts(slo.alerts),
                   ANNOTATION + "min-events": str(slo.min_events)}
    if slo.owner is not None:
        annotations[ANNOTATION + "owner"] = slo.owner
    if slo.tier is not None:
        annotations[ANNOTATION + "tier"] = slo.tier
    metadata: dict[str, Any] = {"name": slo.name}
    if slo.display_name is not None:
        metadata["displayName"] = slo.display_name
    if slo.labels:
        metadata["labels"] = dict(slo.labels)
    metadata["annotations"] = annotations

    def source() -> dict[str, Any]:
        return {"metricSource": {"type": SOURCE_TYPE, "spec": _flat_spec(slo)}}

    spec: dict[str, Any] = {}
    if slo.description is not None:
        spec["description"] = slo.description
    spec["service"] = slo.service if slo.service is not None else slo.name
    spec["indicator"] = {
        "metadata": {"name": slo.name},
        "spec": {"ratioMetric": {"counter": False, "good": source(), "total": source()}},
    }
    spec["budgetingMethod"] = "Timeslices" if slo.budgeting == "timeslices" else "Occurrences"
    spec["timeWindow"] = [_export_window(slo)]
    objective: dict[str, Any] = {"target": fraction_out(slo.objective)}
    if slo.time_slice is not None:
        objective["timeSliceTarget"] = fraction_out(slo.time_slice.target)
        objective["timeSliceWindow"] = format_duration(slo.time_slice.window)
    spec["objectives"] = [objective]
    return {"apiVersion": "openslo/v1", "kind": "SLO", "metadata": metadata, "spec": spec}


def _export_window(slo: SLODefinition) -> dict[str, Any]:
    if isinstance(slo.window, timedelta):
        return {"duration": format_duration(slo.window), "isRolling": True}
    cal: CalendarSpec = slo.window
    return {
        "duration": cal.calendar,
        "isRolling": False,
        "calendar": {"startTime": cal.start.strftime("%Y-%m-%d %H:%M:%S"),
                     "timeZone": cal.timezone},
    }
