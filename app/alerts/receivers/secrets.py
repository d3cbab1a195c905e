"""Secret values for receivers: resolved from config, environment or files, never shown.

Routing keys, API keys, HMAC secrets and Slack webhook URLs (the URL *is* the
credential) must not end up in logs, reprs, tracebacks or the audit trail.
Three layers keep them out:

* `Secret` wraps the value; its repr/str are masked and only `reveal()` hands
  the raw string to the code that builds the request.
* Every resolved secret is remembered (process-wide) so `redact()` can scrub
  it from any text we record, such as an error message echoing a URL.
* `install_log_redaction()` puts a filter on the ``httpx``/``httpcore``
  loggers, because httpx logs each request URL at INFO and a Slack webhook
  URL would otherwise be written to the log verbatim.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

MASK: Final = "***"
# Below this length a "secret" is too short to redact safely: replacing every
# occurrence of, say, "ab" would mangle unrelated log text.
_MIN_REDACT_LEN: Final = 6

_known: set[str] = set()
_known_lock = threading.Lock()


class SecretError(ValueError):
    """A configured secret could not be resolved (messages name the source, not the value)."""


class Secret:
    """A string that refuses to print itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not value:
            raise SecretError("secret is empty")
        self._value = value
        _remember(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> Secret:
        return self

    def __reduce__(self) -> None:  # type: ignore[override]
        # Pickling would copy the raw value into places (caches, queues) we
        # cannot redact; make that a loud error instead.
        raise TypeError("Secret values cannot be pickled")


def _remember(value: str) -> None:
    variants = {value, value.strip()}
    if "://" in value:
        # httpx normalises URLs before logging them; also remember the path,
        # which for webhook URLs carries the token.
        parts = urlsplit(value)
        variants.add(parts.path)
    with _known_lock:
        _known.update(v for v in variants if len(v) >= _MIN_REDACT_LEN)


def redact(text: str) -> str:
    """Replace every known secret in `text` with a mask."""
    with _known_lock:
        known = sorted(_known, key=len, reverse=True)
    for value in known:
        if value in text:
            text = text.replace(value, MASK)
    return text


def resolve_secret(
    *,
    value: str | None,
    env: str | None,
    file: str | Path | None,
    what: str,
    environ: Mapping[str, str] | None = None,
) -> Secret:
    """Turn exactly one configured source into a `Secret`.

    Resolution happens when the receiver is built so that a missing variable
    or unreadable file fails at startup, not at 3 a.m. on the first page.
    File contents are stripped of surrounding whitespace because secret files
    written by editors or `echo` end with a newline that is not part of the key.
    """
    given = [s for s in (value, env, file) if s is not None]
    if len(given) != 1:
        raise SecretError(f"{what}: set exactly one of {what}, {what}_env, {what}_file")
    if value is not None:
        return Secret(value)
    if env is not None:
        source = os.environ if environ is None else environ
        raw = source.get(env)
        if raw is None or not raw.strip():
            raise SecretError(f"{what}: environment variable {env} is not set or empty")
        return Secret(raw.strip())
    path = Path(file)  # type: ignore[arg-type]
    try:
        raw = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SecretError(f"{what}: cannot read {path}: {exc.strerror}") from None
    if not raw:
        raise SecretError(f"{what}: file {path} is empty")
    return Secret(raw)


class RedactingFilter(logging.Filter):
    """Scrubs known secrets from log records before any handler sees them."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # malformed record: logging reports it itself
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True


_FILTER: Final = RedactingFilter()
# httpcore logs on per-module child loggers; list them, since a filter on the
# parent does not see records created on its children.
_LOGGERS: Final = (
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "app.alerts.receivers",
)


def install_log_redaction(logger_names: tuple[str, ...] = _LOGGERS) -> None:
    """Attach the redacting filter to loggers that may print request URLs.

    Logger filters (unlike handler filters) run only for records created on
    that exact logger, so the filter goes on each logger that emits URLs.
    Idempotent: `logging.Filterer.addFilter` ignores a filter already present.
    """
    for name in logger_names:
        logging.getLogger(name).addFilter(_FILTER)
