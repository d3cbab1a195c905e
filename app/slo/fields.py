"""Field types shared by the SLO models: durations, exact ratios, zones, crons.

Ratios are `Fraction`s of the decimal the user wrote, because they end up in
threshold comparisons; the JSON schema hints keep FastAPI's OpenAPI generation happy.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Annotated, Any

from pydantic import AfterValidator, Field, PlainSerializer, PlainValidator, WithJsonSchema

from app.slo.schedule import CronSchedule
from app.slo.windows import format_duration, parse_duration, zone


def _to_duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        result = value
    elif isinstance(value, str):
        result = parse_duration(value)
    else:
        # ValueError, not TypeError: pydantic only turns ValueError into a field error.
        raise ValueError(f"expected a duration like 5m, 6h or 30d, got {value!r}")  # noqa: TRY004
    if result <= timedelta(0):
        raise ValueError("a duration must be positive")
    return result


def to_fraction(value: Any) -> Fraction:
    """Exact value of what was written: 0.999 is 999/1000, and "99.9%" too."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")  # noqa: TRY004
    if isinstance(value, (Fraction, int, Decimal)):
        return Fraction(value)
    if isinstance(value, float):
        return Fraction(repr(value))
    if isinstance(value, str):
        text = value.strip()
        try:
            if text.endswith("%"):
                return Fraction(text[:-1].strip()) / 100
            return Fraction(text)
        except (ValueError, ZeroDivisionError):
            pass
    raise ValueError(f"expected a number such as 0.999 or 99.9%, got {value!r}")


def fraction_out(value: Fraction) -> int | float | str:
    """An int or float when it reads back as the same fraction, else "p/q" (never rounded)."""
    if value.denominator == 1:
        return int(value)
    as_float = float(value)
    return as_float if Fraction(repr(as_float)) == value else str(value)


def _check_zone(name: str) -> str:
    zone(name)
    return name


def _check_cron(expression: str) -> str:
    CronSchedule(expression)
    return expression


Duration = Annotated[
    timedelta,
    PlainValidator(_to_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^(\d+[wdhms])+$", "examples": ["30m"]}),
]
Ratio = Annotated[
    Fraction,
    PlainValidator(to_fraction),
    PlainSerializer(fraction_out),
    WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "string"}], "examples": [0.999]}),
]
TimeZone = Annotated[str, AfterValidator(_check_zone)]
Cron = Annotated[str, AfterValidator(_check_cron)]
Name = Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")]
LabelName = Annotated[str, Field(pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$")]


