"""Locating problems in YAML configuration for people: file, line, field path, reason.

SLO files and routing files are validated with pydantic, whose error locations carry
union tags the user never wrote and no line numbers; these helpers map them back onto
the YAML the user did write. Shared by app.slo.loader and app.alerts.routing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

Loc = tuple[str | int, ...]


def format_path(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def clean_loc(data: Any, loc: tuple[Any, ...], missing: bool) -> Loc:
    """Drop the parts of a pydantic location that are not keys of the document.

    pydantic inserts union tags ("freshness", "rolling", "str") into locations; the
    user never wrote them. A final part that is absent is kept only when it names a
    missing field.
    """
    out: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        in_mapping = isinstance(node, Mapping) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_mapping or in_list:
            node = node[part]
            out.append(part)
        elif i == len(loc) - 1 and missing and isinstance(part, str):
            out.append(part)
    return tuple(out)


def line_of(node: Node | None, loc: Loc) -> int | None:
    """The line of the deepest key along `loc` that the document contains."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, MappingNode):
            for key, value in node.value:
                if isinstance(key, ScalarNode) and key.value == part:
                    line, node = key.start_mark.line + 1, value
                    break
            else:
                return line
        elif isinstance(node, SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def reason(error: Mapping[str, Any]) -> str:
    """A pydantic error message as a person would phrase it."""
    if error["type"] == "missing":
        return "required field is missing"
    if error["type"] == "extra_forbidden":
        return "unknown field"
    msg = str(error["msg"])
    return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")


def duplicate_keys(node: Node | None) -> Iterator[ScalarNode]:
    """Every key that repeats within its mapping. YAML silently keeps the last of two
    equal keys; a dropped route or objective is worse than an error."""
    if isinstance(node, MappingNode):
        seen: set[Any] = set()
        for key, value in node.value:
            if isinstance(key, ScalarNode):
                if key.value in seen:
                    yield key
                seen.add(key.value)
            yield from duplicate_keys(value)
    elif isinstance(node, SequenceNode):
        for item in node.value:
            yield from duplicate_keys(item)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a configuration document, located as precisely as the input allows."""

    file: str
    line: int | None
    path: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.path or '(document)'}: {self.reason}"


class ConfigValidationError(ValueError):
    """Every problem found, not just the first: fixing a file one error per run is slow."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))
