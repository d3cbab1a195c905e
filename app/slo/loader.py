"""Loading SLO YAML files, with every problem reported by file, line and field path.

PyYAML composes the documents into nodes first: the nodes keep their line numbers,
so a pydantic error location such as ("sli", "max_age") can be turned into the line
where the user wrote that key. Floats are read exactly (0.999 stays 999/1000), since
objectives feed threshold comparisons that must not be rounded.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

import yaml
from pydantic import ValidationError
from yaml.nodes import Node, ScalarNode

from app.slo.definitions import SLODefinition
from app.slo.openslo import IGNORED_KINDS, OSLI, OSLO, Loc, slo_to_native
from app.yamlconf import (
    ConfigValidationError,
    Problem,
    clean_loc,
    duplicate_keys,
    format_path,
    line_of,
    reason,
)


class SLOValidationError(ConfigValidationError):
    """An SLO file or body that cannot be applied; lists every problem with its place."""


NATIVE_VERSIONS = (None, "dataslo/v1")


class _ExactLoader(yaml.SafeLoader):
    pass


def _exact_float(loader: yaml.SafeLoader, node: ScalarNode) -> Any:
    text = loader.construct_scalar(node).replace("_", "")
    try:
        return Fraction(text)
    except ValueError:  # .inf, .nan and sexagesimal floats keep YAML's own reading
        return loader.construct_yaml_float(node)


_ExactLoader.add_constructor("tag:yaml.org,2002:float", _exact_float)


def _documents(text: str) -> list[tuple[Node, Any]]:
    loader = _ExactLoader(text)
    try:
        docs = []
        while loader.check_node():
            node = loader.get_node()
            docs.append((node, loader.construct_document(node)))
        return docs
    finally:
        loader.dispose()


def _pydantic_problems(exc: ValidationError, data: Any) -> list[tuple[Loc, str]]:
    return [(clean_loc(data, e["loc"], e["type"] == "missing"), reason(e))
            for e in exc.errors()]


def _native(data: dict[str, Any]) -> SLODefinition | list[tuple[Loc, str]]:
    kind = data.get("kind", "SLO")
    if kind != "SLO":
        return [(("kind",), f"expected kind SLO, got {kind!r}")]
    body = {k: v for k, v in data.items() if k not in ("apiVersion", "kind")}
    try:
        return SLODefinition.model_validate(body)
    except ValidationError as exc:
        return _pydantic_problems(exc, body)


def _openslo(
    data: dict[str, Any], slis: Mapping[str, OSLI]
) -> SLODefinition | list[tuple[Loc, str]]:
    try:
        doc = OSLO.model_validate(data)
    except ValidationError as exc:
        return _pydantic_problems(exc, data)
    converted = slo_to_native(doc, slis)
    problems = list(converted.errors)
    try:
        slo = SLODefinition.model_validate(converted.native)
    except ValidationError as exc:
        for native_loc, reason in _pydantic_problems(exc, converted.native):
            source = converted.source_of(native_loc)
            # After a conversion error, gaps in the native form are its echo, not news.
            if converted.errors and (not source or reason == "required field is missing"):
                continue
            if converted.origin.get(native_loc) != source or not native_loc:
                reason = f"{format_path(native_loc) or 'document'}: {reason}"
            problems.append((source, reason))
    else:
        if not problems:
            return slo
    return problems


def parse_slo_document(
    data: Any, slis: Mapping[str, OSLI] | None = None, filename: str = "<request>"
) -> SLODefinition:
    """One SLO document already parsed (from an API body): native or OpenSLO."""
    result = _dispatch(data, slis or {})
    if isinstance(result, SLODefinition):
        return result
    raise SLOValidationError(
        [Problem(filename, None, format_path(loc), why) for loc, why in result]
    )


def _dispatch(data: Any, slis: Mapping[str, OSLI]) -> SLODefinition | list[tuple[Loc, str]]:
    if not isinstance(data, dict):
        return [((), "an SLO document must be a mapping")]
    version = data.get("apiVersion")
    if version == "openslo/v1":
        return _openslo(data, slis)
    if version in NATIVE_VERSIONS:
        return _native(data)
    return [(("apiVersion",), "expected openslo/v1, dataslo/v1, or none for the native form")]


def load_slo_documents(text: str, filename: str = "<string>") -> list[SLODefinition]:
    """Every SLO in a (multi-document) YAML text, or one error listing all problems.

    OpenSLO `kind: SLI` documents in the same text can be referenced by
    `indicatorRef`; Service, DataSource and alerting kinds are accepted and skipped.
    """
    try:
        docs = _documents(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise SLOValidationError(
            [Problem(filename, line, "", f"invalid YAML: {exc.problem or exc.context}")]
        ) from exc
    except yaml.YAMLError as exc:
        raise SLOValidationError([Problem(filename, None, "", f"invalid YAML: {exc}")]) from exc

    problems: list[Problem] = []

    def at(node: Node, loc: Loc, reason: str) -> None:
        problems.append(Problem(filename, line_of(node, loc), format_path(loc), reason))

    slis: dict[str, OSLI] = {}
    pending: list[tuple[Node, dict[str, Any]]] = []
    for node, data in docs:
        if data is None:
            continue
        problems.extend(Problem(filename, key.start_mark.line + 1, "", f"duplicate key {key.value!r}")
                        for key in duplicate_keys(node))
        if isinstance(data, dict) and data.get("apiVersion") == "openslo/v1":
            kind = data.get("kind")
            if kind in IGNORED_KINDS:
                continue
            if kind == "SLI":
                try:
                    sli = OSLI.model_validate(data)
                except ValidationError as exc:
                    for loc, why in _pydantic_problems(exc, data):
                        at(node, loc, why)
                    continue
                if sli.metadata.name in slis:
                    at(node, ("metadata", "name"), f"SLI {sli.metadata.name!r} defined twice")
                slis[sli.metadata.name] = sli
                continue
            if kind != "SLO":
                at(node, ("kind",), f"unsupported OpenSLO kind {kind!r}")
                continue
        pending.append((node, data))

    slos: list[SLODefinition] = []
    names: set[str] = set()
    for node, data in pending:
        result = _dispatch(data, slis)
        if isinstance(result, SLODefinition):
            if result.name in names:
                openslo = data.get("apiVersion") == "openslo/v1"
                name_loc = ("metadata", "name") if openslo else ("name",)
                at(node, name_loc, f"SLO {result.name!r} defined twice")
            names.add(result.name)
            slos.append(result)
        else:
            for loc, why in result:
                at(node, loc, why)
    if problems:
        problems.sort(key=lambda p: (p.line or 0))
        raise SLOValidationError(problems)
    return slos
