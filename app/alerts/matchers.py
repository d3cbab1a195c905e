"""Label matchers shared by routes, silences and maintenance windows.

One matcher type everywhere so that "what does this silence catch" and "where does this
route send" are answered by the same rules: equality or a regular expression that must
match the whole value (as in Alertmanager), optionally negated. A label that is absent
counts as the empty string, so `owner!=""` means "has an owner".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

LABEL_NAME = r"^[A-Za-z_][A-Za-z0-9_.-]*$"


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


class Matcher(BaseModel):
    """`name` equals (or, with `regex`, fully matches) `value`; `equal: false` negates."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=128, pattern=LABEL_NAME)
    value: str = Field(max_length=1024)
    regex: bool = False
    equal: bool = True

    @model_validator(mode="after")
    def _valid_regex(self) -> Matcher:
        if self.regex:
            try:
                _compiled(self.value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {self.value!r}: {exc}") from None
        return self

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = str(labels.get(self.name, ""))
        if self.regex:
            hit = _compiled(self.value).fullmatch(actual) is not None
        else:
            hit = actual == self.value
        return hit if self.equal else not hit

    def __str__(self) -> str:
        op = ("=~" if self.regex else "=") if self.equal else ("!~" if self.regex else "!=")
        return f"{self.name}{op}{self.value!r}"


def all_match(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)


def parse_matchers(raw: Iterable[Mapping[str, Any]]) -> list[Matcher]:
    return [Matcher.model_validate(dict(m)) for m in raw]


_EXPR = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")


def parse_expression(text: str) -> Matcher:
    """`team=payments`, `slo=~orders-.*`, `tier!=3`, `owner!~bot.*` (the CLI form).

    Quotes around the value are optional and removed.
    """
    match = _EXPR.match(text)
    if match is None:
        raise ValueError(f"not a matcher: {text!r} (expected name=value, =~, != or !~)")
    name, op, value = match.groups()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return Matcher(name=name, value=value, regex="~" in op, equal=op[0] != "!")


class MatcherSet(BaseModel):
    """The YAML form: `match` (equality) and `match_re` (regex) maps.

    Numbers are read as text (`tier: 1` means the label value "1"), since labels are
    strings and a YAML author should not need quotes for them.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)

    match: dict[str, str] = Field(default_factory=dict)
    match_re: dict[str, str] = Field(default_factory=dict)

    @field_validator("match_re")
    @classmethod
    def _regexes_compile(cls, value: dict[str, str]) -> dict[str, str]:
        for name, pattern in value.items():
            try:
                _compiled(pattern)
            except re.error as exc:
                raise ValueError(f"{name}: invalid regular expression: {exc}") from None
        return value

    def matchers(self) -> list[Matcher]:
        out = [Matcher(name=k, value=str(v)) for k, v in self.match.items()]
        out += [Matcher(name=k, value=str(v), regex=True) for k, v in self.match_re.items()]
        return out
