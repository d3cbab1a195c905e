"""SLO definitions: the compact native form, validated strictly.

Every SLO, however it was written (native YAML, OpenSLO, the API), ends up as one
`SLODefinition`, so the engine has a single thing to evaluate. Unknown keys are
errors (a typo such as `max_agee` must not silently fall back to a default), and
numbers such as objectives are kept as exact fractions of what was written.

Defaults, and why:
- budgeting: Timeslices for freshness (it is a state over time: a minute is fresh
  or not), Occurrences for everything else;
- time slices: 1 minute, and a slice is good only if fresh for all of it;
- min_events: 10 for event-based SLIs, so one failure among three runs cannot page;
  0 for freshness, whose minute slices exist whether or not anything ran;
- alerts: the four rows of the SRE Workbook (14.4x 1h/5m and 6x 6h/30m page, 3x
  1d/2h and 1x 3d/6h ticket), as burn-rate factors for every period length;
- window: rolling 30 days;
- freshness deadline: an update counts for a tick if it came after the previous tick;
- success-rate schedule: a run not started 1 hour after its tick is missing;
- volume median: over the previous 7 versions.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from fractions import Fraction
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationInfo,
    field_validator,
    model_validator,
)

from app.slo.burn import SRE_WORKBOOK_CONDITIONS, Condition, factor_for_budget_share
from app.slo.fields import Cron, Duration, LabelName, Name, Ratio, TimeZone
from app.slo.freshness import Deadline, FreshnessRule, MaxAge
from app.slo.outcomes import MedianFraction, MinRows, VolumeRule
from app.slo.schedule import CronSchedule
from app.slo.windows import MINUTE, CalendarWindow, Period, RollingWindow, format_duration


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EntityRef(Strict):
    namespace: str = Field(min_length=1)
    name: str = Field(min_length=1)


class Selector(Strict):
    """Many datasets or jobs at once; every given criterion must match."""

    namespace: str | None = Field(default=None, description="glob, e.g. postgres://prod*")
    tags: list[str] = Field(default_factory=list)
    owner: str | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> Selector:
        if self.namespace is None and not self.tags and self.owner is None:
            raise ValueError("a selector needs at least one of namespace, tags, owner")
        return self

    def matches(
        self, namespace: str, tags: Collection[str] = (), owners: Collection[str] = ()
    ) -> bool:
        if self.namespace is not None and not fnmatchcase(namespace, self.namespace):
            return False
        if not set(self.tags) <= set(tags):
            return False
        return self.owner is None or self.owner in owners


class Target(Strict):
    dataset: EntityRef | None = None
    job: EntityRef | None = None
    selector: Selector | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Target:
        given = [k for k in ("dataset", "job", "selector") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of dataset, job, selector")
        return self


class DeadlineSpec(Strict):
    cron: Cron
    timezone: TimeZone = "UTC"
    lookback: Duration | None = None


class FreshnessSLI(Strict):
    kind: Literal["freshness"]
    max_age: Duration | None = None
    deadline: DeadlineSpec | None = None

    @model_validator(mode="after")
    def _one_rule(self) -> FreshnessSLI:
        if (self.max_age is None) == (self.deadline is None):
            raise ValueError("freshness needs exactly one of max_age, deadline")
        return self

    def rule(self) -> FreshnessRule:
        if self.max_age is not None:
            return MaxAge(self.max_age)
        d = self.deadline
        return Deadline(CronSchedule(d.cron, d.timezone), d.lookback)


class VolumeSLI(Strict):
    kind: Literal["volume", "completeness"]
    min_rows: int | None = Field(default=None, ge=0)
    median_fraction: Ratio | None = None
    versions: int = Field(default=7, ge=1, description="previous versions in the median")

    @model_validator(mode="after")
    def _one_rule(self) -> VolumeSLI:
        if (self.min_rows is None) == (self.median_fraction is None):
            raise ValueError("volume needs exactly one of min_rows, median_fraction")
        if self.median_fraction is not None and self.median_fraction <= 0:
            raise ValueError("median_fraction must be positive")
        return self

    def rule(self) -> VolumeRule:
        if self.min_rows is not None:
            return MinRows(self.min_rows)
        return MedianFraction(self.median_fraction, self.versions)


class ScheduleSpec(Strict):
    cron: Cron
    timezone: TimeZone = "UTC"
    grace: Duration = timedelta(hours=1)

    def schedule(self) -> CronSchedule:
        return CronSchedule(self.cron, self.timezone)


class SuccessRateSLI(Strict):
    kind: Literal["success_rate"]
    schedule: ScheduleSpec | None = None


class QualitySLI(Strict):
    kind: Literal["quality"]
    assertions: list[str] = Field(default_factory=list, description="globs; empty = all")

    def counts_assertion(self, name: str) -> bool:
        return not self.assertions or any(fnmatchcase(name, g) for g in self.assertions)


class DurationSLI(Strict):
    kind: Literal["duration"]
    threshold: Duration


SLI = Annotated[
    FreshnessSLI | VolumeSLI | SuccessRateSLI | QualitySLI | DurationSLI,
    Field(discriminator="kind"),
]
DATASET_KINDS = frozenset({"freshness", "volume", "completeness", "quality"})

_CALENDAR_WORDS = {"day": "1d", "week": "1w", "month": "1M", "quarter": "1Q", "year": "1Y"}
_CALENDAR_RE = re.compile(r"^([1-9]\d*)([dwMQY])$")
DEFAULT_ANCHOR = datetime(2024, 1, 1)  # a Monday, so weeks start on Mondays


class CalendarSpec(Strict):
    calendar: str = Field(description="day, week, month, quarter, year, or e.g. 2w, 1M")
    timezone: TimeZone = "UTC"
    start: datetime = Field(default=DEFAULT_ANCHOR, description="local wall time")

    @field_validator("calendar")
    @classmethod
    def _unit(cls, value: str) -> str:
        value = _CALENDAR_WORDS.get(value, value)
        if not _CALENDAR_RE.match(value):
            raise ValueError(
                "expected day, week, month, quarter, year, or a count and unit like 2w or 1M"
            )
        return value

    @field_validator("start")
    @classmethod
    def _local(cls, value: datetime) -> datetime:
        if value.tzinfo is not None:
            raise ValueError("start is a wall time in `timezone`: drop the UTC offset")
        return value

    def window(self) -> CalendarWindow:
        count, unit = _CALENDAR_RE.match(self.calendar).groups()
        return CalendarWindow(unit, int(count), self.timezone, self.start)


def _window_tag(value: Any) -> str:
    return "calendar" if isinstance(value, (dict, CalendarSpec)) else "rolling"


WindowSpec = Annotated[
    Annotated[Duration, Tag("rolling")] | Annotated[CalendarSpec, Tag("calendar")],
    Discriminator(_window_tag),
]


class TimeSliceSpec(Strict):
    window: Duration = MINUTE
    target: Ratio = Fraction(1)

    @field_validator("window")
    @classmethod
    def _whole_minutes(cls, value: timedelta) -> timedelta:
        if value % MINUTE:
            raise ValueError("time slices are whole minutes")
        return value

    @field_validator("target")
    @classmethod
    def _target(cls, value: Fraction) -> Fraction:
        if not 0 < value <= 1:
            raise ValueError("a time-slice target lies in (0, 1]")
        return value


class AlertSpec(Strict):
    """One burn-rate row; `budget_share` derives the factor as share x period / long."""

    severity: Literal["page", "ticket"]
    long: Duration
    short: Duration
    factor: Ratio | None = None
    budget_share: Ratio | None = None

    @model_validator(mode="after")
    def _consistent(self) -> AlertSpec:
        if (self.factor is None) == (self.budget_share is None):
            raise ValueError("give exactly one of factor, budget_share")
        if self.long % MINUTE or self.short % MINUTE:
            raise ValueError("alert windows are whole minutes")
        if self.short >= self.long:
            raise ValueError("the short window must be shorter than the long one")
        value = self.factor if self.factor is not None else self.budget_share
        if value <= 0:
            raise ValueError("factor and budget_share must be positive")
        return self

    def condition(self, period_length: timedelta) -> Condition:
        factor = self.factor
        if factor is None:
            factor = factor_for_budget_share(self.budget_share, period_length, self.long)
        return Condition(self.severity, self.long, self.short, factor)


DEFAULT_ALERTS: tuple[AlertSpec, ...] = tuple(
    AlertSpec(severity=c.severity, long=c.long, short=c.short, factor=c.factor)
    for c in SRE_WORKBOOK_CONDITIONS
)
DEFAULT_MIN_EVENTS = 10


class SLODefinition(Strict):
    name: Name
    display_name: str | None = None
    description: str | None = None
    service: str | None = None
    owner: str | None = None
    tier: str | None = None
    labels: dict[LabelName, str] = Field(default_factory=dict)
    sli: SLI
    target: Target
    objective: Ratio
    window: WindowSpec = timedelta(days=30)
    budgeting: Literal["occurrences", "timeslices"] | None = None
    time_slice: TimeSliceSpec | None = None
    min_events: int | None = Field(default=None, ge=0)
    alerts: list[AlertSpec] | None = None

    @field_validator("tier", mode="before")
    @classmethod
    def _tier(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("target")
    @classmethod
    def _entity_matches_sli(cls, value: Target, info: ValidationInfo) -> Target:
        sli = info.data.get("sli")
        if sli is None:
            return value
        wants = "dataset" if sli.kind in DATASET_KINDS else "job"
        other = "job" if wants == "dataset" else "dataset"
        if getattr(value, other) is not None:
            raise ValueError(f"a {sli.kind} SLI measures a {wants}, not a {other}")
        return value

    @field_validator("objective")
    @classmethod
    def _objective(cls, value: Fraction) -> Fraction:
        if not 0 < value < 1:
            raise ValueError("the objective lies strictly between 0 and 1, e.g. 0.99 or 99%")
        return value

    @field_validator("budgeting")
    @classmethod
    def _budgeting(cls, value: str | None, info: ValidationInfo) -> str | None:
        sli = info.data.get("sli")
        if value == "occurrences" and sli is not None and sli.kind == "freshness":
            raise ValueError("freshness is measured in time: use budgeting: timeslices")
        return value

    @field_validator("time_slice")
    @classmethod
    def _slices(cls, value: TimeSliceSpec | None, info: ValidationInfo) -> TimeSliceSpec | None:
        if value is not None and info.data.get("budgeting") == "occurrences":
            raise ValueError("time_slice needs budgeting: timeslices")
        return value

    @field_validator("alerts")
    @classmethod
    def _alerts_fit(cls, value: list[AlertSpec] | None, info: ValidationInfo) -> Any:
        window = info.data.get("window")
        if value is not None and isinstance(window, timedelta):
            for spec in value:
                if spec.long > window:
                    raise ValueError(
                        f"long window {format_duration(spec.long)} exceeds the "
                        f"{format_duration(window)} SLO window"
                    )
        return value

    @model_validator(mode="after")
    def _defaults(self) -> SLODefinition:
        if self.budgeting is None:
            self.budgeting = "timeslices" if self.sli.kind == "freshness" else "occurrences"
        if self.budgeting == "timeslices" and self.time_slice is None:
            self.time_slice = TimeSliceSpec()
        if self.min_events is None:
            self.min_events = 0 if self.sli.kind == "freshness" else DEFAULT_MIN_EVENTS
        if self.alerts is None:
            self.alerts = [a.model_copy() for a in DEFAULT_ALERTS]
        return self

    @property
    def entity(self) -> Literal["dataset", "job"]:
        return "dataset" if self.sli.kind in DATASET_KINDS else "job"

    def period(self) -> Period:
        if isinstance(self.window, timedelta):
            return RollingWindow(self.window)
        return self.window.window()

    def conditions(self, at: datetime) -> tuple[Condition, ...]:
        """Alert rows with their factors; budget shares resolve against the period
        containing `at`, since calendar months differ in length."""
        length = self.period().nominal_length(at)
        return tuple(spec.condition(length) for spec in self.alerts)


def to_native(slo: SLODefinition) -> dict[str, Any]:
    """The native document of an SLO, defaults spelled out, ready for YAML or JSON."""
    return slo.model_dump(mode="json", exclude_none=True)

