"""The routing file: receivers, label-matching routes, a default route, maintenance windows.

Loaded like SLO files: every problem is reported at once with file, line, field path and
reason, and unknown keys are errors (a typo such as `recievers` must not silently drop
every page). Receivers are built while loading, so a missing secret (`routing_key_env`
naming an unset variable) is a start-up error pointing at its line, not a failed page
at 3 a.m.

Routes are a flat, ordered list: the first matching route wins unless it says
`continue: true`, in which case matching goes on and later matches add receivers. When
no route matches, `default` applies.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from app.alerts.matchers import MatcherSet
from app.alerts.receivers import Receiver, ReceiverConfig, ReceiverConfigBase, build_receiver
from app.slo.schedule import CronSchedule
from app.yamlconf import (
    ConfigValidationError,
    Problem,
    clean_loc,
    duplicate_keys,
    format_path,
    line_of,
)
from app.yamlconf import reason as error_reason

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}


def parse_duration(value: Any) -> float:
    """Seconds from `90`, `"30s"`, `"5m"`, `"4h"`, `"1d"`; positive only."""
    if isinstance(value, bool):  # ValueError: pydantic reports it as a field problem
        raise ValueError("expected a duration such as 30s, 5m, 4h or 1d")  # noqa: TRY004
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if match is None:
            raise ValueError(f"expected a duration such as 30s, 5m, 4h or 1d, got {value!r}")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return seconds


Seconds = float


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


class Route(MatcherSet):
    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, coerce_numbers_to_str=True
    )

    name: str | None = Field(default=None, min_length=1, max_length=128)
    receivers: list[str] = Field(min_length=1)
    continue_: bool = Field(default=False, alias="continue")
    # Re-notify an unacknowledged page this often (None: once).
    repeat_interval: Seconds | None = None

    _dur = field_validator("repeat_interval", mode="before")(
        lambda v: None if v is None else parse_duration(v)
    )


class DefaultRoute(_Strict):
    receivers: list[str] = Field(min_length=1)
    repeat_interval: Seconds | None = None

    _dur = field_validator("repeat_interval", mode="before")(
        lambda v: None if v is None else parse_duration(v)
    )


class WindowSpec(MatcherSet):
    """A maintenance window: recurring (`cron` + `duration`) or one-off (`start` + `end`)."""

    name: str = Field(min_length=1, max_length=128)
    timezone: str = "UTC"
    cron: str | None = None
    duration: Seconds | None = None
    start: datetime | None = None
    end: datetime | None = None
    exclude_budget: bool = False
    mute: bool = True
    comment: str = ""

    _dur = field_validator("duration", mode="before")(
        lambda v: None if v is None else parse_duration(v)
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ValueError, ZoneInfoNotFoundError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.utcoffset() is None:
            raise ValueError("must include a UTC offset, e.g. 2026-12-01T02:00:00+01:00")
        return value

    def check(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Cross-field rules, as (field path, reason) pairs."""
        problems: list[tuple[tuple[str | int, ...], str]] = []
        if self.cron is not None:
            if self.duration is None:
                problems.append((("duration",), "a recurring window (cron) needs a duration"))
            try:
                CronSchedule(self.cron, self.timezone)
            except (ValueError, KeyError) as exc:
                problems.append((("cron",), str(exc.args[0]) if exc.args else str(exc)))
        elif self.start is None or self.end is None:
            problems.append(((), "give either cron + duration, or start + end"))
        if self.start and self.end and self.end <= self.start:
            problems.append((("end",), "end must be after start"))
        return problems


class RoutingFile(_Strict):
    receivers: list[ReceiverConfig] = Field(default_factory=list)
    routes: list[Route] = Field(default_factory=list)
    default: DefaultRoute | None = None
    maintenance_windows: list[WindowSpec] = Field(default_factory=list)


@dataclass(frozen=True)
class Target:
    """One receiver an alert goes to, and through which route."""

    receiver: str
    route: str
    repeat_seconds: float | None


@dataclass
class RoutingConfig:
    receiver_configs: dict[str, ReceiverConfigBase] = field(default_factory=dict)
    receivers: dict[str, Receiver] = field(default_factory=dict)
    routes: list[Route] = field(default_factory=list)
    default: DefaultRoute | None = None
    windows: list[WindowSpec] = field(default_factory=list)

    def targets(self, labels: Mapping[str, str]) -> list[Target]:
        """Receivers for `labels`, in route order, each once (the first route naming it wins)."""
        out: dict[str, Target] = {}
        matched = False
        for index, route in enumerate(self.routes):
            if not all(m.matches(labels) for m in route.matchers()):
                continue
            matched = True
            name = route.name or f"routes[{index}]"
            for receiver in route.receivers:
                out.setdefault(receiver, Target(receiver, name, route.repeat_interval))
            if not route.continue_:
                break
        if not matched and self.default is not None:
            for receiver in self.default.receivers:
                out.setdefault(receiver, Target(receiver, "default", self.default.repeat_interval))
        return list(out.values())


# -- loading with line numbers ---------------------------------------------------------

Loc = tuple[str | int, ...]


class RoutingValidationError(ConfigValidationError):
    """A routing file that cannot be loaded; lists every problem with its place."""


def load_routing(
    text: str,
    filename: str = "<string>",
    *,
    environ: Mapping[str, str] | None = None,
    build: bool = True,
) -> RoutingConfig:
    """Parse, validate and (with `build`) construct every receiver of a routing file."""
    problems: list[Problem] = []
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise RoutingValidationError(
            [Problem(filename, mark.line + 1 if mark else None, "", f"invalid YAML: {exc.problem}")]
        ) from exc
    if data is None:
        return RoutingConfig()

    def at(loc: Loc, reason: str) -> None:
        problems.append(Problem(filename, line_of(node, loc), format_path(loc), reason))

    if not isinstance(data, dict):
        raise RoutingValidationError([Problem(filename, 1, "", "the routing file must be a mapping")])
    problems.extend(Problem(filename, key.start_mark.line + 1, "", f"duplicate key {key.value!r}")
                    for key in duplicate_keys(node))
    try:
        doc = RoutingFile.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            at(clean_loc(data, err["loc"], err["type"] == "missing"), error_reason(err))
        raise RoutingValidationError(sorted(problems, key=lambda p: p.line or 0)) from None

    names: dict[str, int] = {}
    for i, receiver in enumerate(doc.receivers):
        if receiver.name in names:
            at(("receivers", i, "name"), f"receiver {receiver.name!r} defined twice")
        names.setdefault(receiver.name, i)
    for i, route in enumerate(doc.routes):
        for j, name in enumerate(route.receivers):
            if name not in names:
                at(("routes", i, "receivers", j), f"unknown receiver {name!r}")
    if doc.default is not None:
        for j, name in enumerate(doc.default.receivers):
            if name not in names:
                at(("default", "receivers", j), f"unknown receiver {name!r}")
    seen_windows: set[str] = set()
    for i, window in enumerate(doc.maintenance_windows):
        if window.name in seen_windows:
            at(("maintenance_windows", i, "name"), f"window {window.name!r} defined twice")
        seen_windows.add(window.name)
        for loc, reason in window.check():
            at(("maintenance_windows", i, *loc), reason)

    config = RoutingConfig(
        receiver_configs={r.name: r for r in doc.receivers},
        routes=list(doc.routes),
        default=doc.default,
        windows=list(doc.maintenance_windows),
    )
    if build and not problems:
        for i, receiver in enumerate(doc.receivers):
            try:
                config.receivers[receiver.name] = build_receiver(receiver, environ=environ)
            except ValueError as exc:  # SecretError is a ValueError; messages hold no secret
                at(("receivers", i), str(exc))
    if problems:
        raise RoutingValidationError(sorted(problems, key=lambda p: p.line or 0))
    return config


def load_routing_file(path: Path, *, environ: Mapping[str, str] | None = None) -> RoutingConfig:
    return load_routing(path.read_text(encoding="utf-8"), str(path), environ=environ)
