"""Validated receiver configuration, as read from the routing YAML.

Every model forbids unknown keys: a typo such as ``routing_key_evn`` must fail
at load time instead of silently leaving a receiver without credentials.
Secrets are given as exactly one of ``<name>`` (inline, masked in reprs),
``<name>_env`` (an environment variable name) or ``<name>_file`` (a path, for
mounted secrets); inline values are accepted for tests and local setups but
the env/file forms keep credentials out of files that end up in Git.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    TypeAdapter,
    field_validator,
    model_validator,
)

from app.alerts.receivers.backoff import RateLimit
from app.alerts.receivers.model import Severity
from app.alerts.receivers.secrets import Secret, SecretError, resolve_secret

Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]


def _check_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        # Deliberately does not echo the value: for Slack it is the secret.
        raise ValueError("must be an absolute http(s) URL")
    return value


HttpUrlStr = Annotated[str, AfterValidator(_check_http_url)]


class ReceiverConfigBase(BaseModel):
    """Fields every receiver shares."""

    # Validation errors would otherwise quote the offending input, which can
    # be an inline routing key or a Slack webhook URL.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    # (field name, required) for each secret this receiver takes; a subclass
    # declares `<name>: SecretStr | None`, `<name>_env` and `<name>_file`.
    secret_fields: ClassVar[tuple[tuple[str, bool], ...]] = ()

    name: Name
    # Off means resolve notifications are recorded as skipped, not sent.
    send_resolved: bool = True
    # None disables client-side limiting (e.g. a local Alertmanager).
    rate_limit_per_minute: float | None = Field(default=None, gt=0)
    rate_limit_burst: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _one_source_per_secret(self) -> ReceiverConfigBase:
        for field, required in self.secret_fields:
            given = [
                n for n in (field, f"{field}_env", f"{field}_file") if getattr(self, n) is not None
            ]
            if len(given) > 1:
                raise ValueError(f"set only one of {', '.join(given)}")
            if required and not given:
                raise ValueError(f"one of {field}, {field}_env, {field}_file is required")
        return self

    def resolve(self, field: str, environ: Mapping[str, str] | None = None) -> Secret | None:
        """Resolve one declared secret, or None if it is optional and unset."""
        inline: SecretStr | None = getattr(self, field)
        env: str | None = getattr(self, f"{field}_env")
        file: Path | None = getattr(self, f"{field}_file")
        if inline is None and env is None and file is None:
            return None
        return resolve_secret(
            value=inline.get_secret_value() if inline is not None else None,
            env=env,
            file=file,
            what=field,
            environ=environ,
        )

    def require(self, field: str, environ: Mapping[str, str] | None = None) -> Secret:
        """Resolve a secret the receiver cannot work without."""
        secret = self.resolve(field, environ)
        if secret is None:
            raise SecretError(f"{field}: no value configured")
        return secret

    def rate_limit(self) -> RateLimit | None:
        if self.rate_limit_per_minute is None:
            return None
        return RateLimit.per_minute(self.rate_limit_per_minute, self.rate_limit_burst)


PagerDutySeverity = Literal["critical", "error", "warning", "info"]


def _every_severity(value: dict[Severity, str]) -> dict[Severity, str]:
    """A severity map must say what every dataslo severity becomes at the receiver."""
    missing = set(Severity) - set(value)
    if missing:
        raise ValueError(f"missing severities: {sorted(m.value for m in missing)}")
    return value


class PagerDutyConfig(ReceiverConfigBase):
    """PagerDuty Events API v2.

    The default rate (100/min with a burst of 20) never exceeds PagerDuty's
    ~120 events per minute per routing key in any 60-second window.
    """

    secret_fields = (("routing_key", True),)

    type: Literal["pagerduty"]
    url: HttpUrlStr = "https://events.pagerduty.com/v2/enqueue"
    routing_key: SecretStr | None = None
    routing_key_env: str | None = None
    routing_key_file: Path | None = None
    source: str = "dataslo"
    client_url: HttpUrlStr | None = None
    severity_map: dict[Severity, PagerDutySeverity] = Field(
        default_factory=lambda: {Severity.PAGE: "critical", Severity.TICKET: "warning"}
    )
    rate_limit_per_minute: float | None = Field(default=100, gt=0)
    rate_limit_burst: int = Field(default=20, ge=1)

    _complete = field_validator("severity_map")(_every_severity)


class SlackConfig(ReceiverConfigBase):
    """Slack incoming webhook; the webhook URL is the secret.

    Slack allows about one message per second per webhook, hence 60/min with
    no burst by default.
    """

    secret_fields = (("webhook_url", True),)

    type: Literal["slack"]
    webhook_url: SecretStr | None = None
    webhook_url_env: str | None = None
    webhook_url_file: Path | None = None
    # How many impacted assets to list before summarising the rest.
    max_impacted: int = Field(default=10, ge=0, le=40)
    rate_limit_per_minute: float | None = Field(default=60, gt=0)
    rate_limit_burst: int = Field(default=1, ge=1)

    @field_validator("webhook_url")
    @classmethod
    def _webhook_is_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            _check_http_url(value.get_secret_value())
        return value


class AlertmanagerConfig(ReceiverConfigBase):
    """Prometheus Alertmanager API v2 (``POST {url}/api/v2/alerts``).

    Firing alerts are sent with ``endsAt = now + 4 * resend_interval``, the
    same margin Prometheus uses: the alert survives three missed re-sends
    before Alertmanager resolves it on its own.
    """

    secret_fields = (("bearer_token", False),)

    type: Literal["alertmanager"]
    url: HttpUrlStr = "http://127.0.0.1:9093"
    resend_interval: float = Field(default=60.0, gt=0, description="seconds")
    alertname: str | None = None
    extra_labels: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")], str] = Field(
        default_factory=dict
    )
    generator_url: HttpUrlStr | None = None
    bearer_token: SecretStr | None = None
    bearer_token_env: str | None = None
    bearer_token_file: Path | None = None


class OpsgenieResponder(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["team", "user", "escalation", "schedule"]
    name: str | None = None
    id: str | None = None
    username: str | None = None

    @model_validator(mode="after")
    def _identified(self) -> OpsgenieResponder:
        if not (self.name or self.id or self.username):
            raise ValueError("a responder needs a name, id or username")
        return self


OpsgeniePriority = Literal["P1", "P2", "P3", "P4", "P5"]


class OpsgenieConfig(ReceiverConfigBase):
    """Opsgenie Alert API v2 (use ``https://api.eu.opsgenie.com`` for EU accounts)."""

    secret_fields = (("api_key", True),)

    type: Literal["opsgenie"]
    url: HttpUrlStr = "https://api.opsgenie.com"
    api_key: SecretStr | None = None
    api_key_env: str | None = None
    api_key_file: Path | None = None
    priority_map: dict[Severity, OpsgeniePriority] = Field(
        default_factory=lambda: {Severity.PAGE: "P1", Severity.TICKET: "P3"}
    )
    responders: list[OpsgenieResponder] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    source: str = "dataslo"
    user: str = "dataslo"
    rate_limit_per_minute: float | None = Field(default=60, gt=0)
    rate_limit_burst: int = Field(default=10, ge=1)

    _complete = field_validator("priority_map")(_every_severity)


_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HEADER_VALUE = re.compile(r"[ -~]*")
_RESERVED_HEADERS = frozenset(
    {"content-type", "content-length", "host", "x-dataslo-signature", "idempotency-key"}
)


class WebhookConfig(ReceiverConfigBase):
    """Generic JSON webhook signed with HMAC-SHA256 (see `webhook` for the body)."""

    secret_fields = (("secret", True),)

    type: Literal["webhook"]
    url: HttpUrlStr
    secret: SecretStr | None = None
    secret_env: str | None = None
    secret_file: Path | None = None
    # Extra non-secret headers (e.g. a tenant id); anything secret belongs in
    # the HMAC secret, which is never sent.
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("headers")
    @classmethod
    def _not_reserved(cls, value: dict[str, str]) -> dict[str, str]:
        clash = sorted(h for h in value if h.lower() in _RESERVED_HEADERS)
        if clash:
            raise ValueError(f"headers set by dataslo cannot be overridden: {clash}")
        for header, text in value.items():
            # Checked here because httpx would only fail when sending.
            if not _HEADER_NAME.fullmatch(header) or not _HEADER_VALUE.fullmatch(text):
                raise ValueError(f"header {header!r} has an invalid name or value")
        return value


ReceiverConfig = Annotated[
    PagerDutyConfig | SlackConfig | AlertmanagerConfig | OpsgenieConfig | WebhookConfig,
    Field(discriminator="type"),
]

# The union's error messages are rendered by the outermost schema, so it needs
# the same input hiding as the models. A model that embeds `ReceiverConfig`
# (the routing file) must set ``hide_input_in_errors=True`` too.
_ADAPTER: TypeAdapter[ReceiverConfig] = TypeAdapter(
    ReceiverConfig, config=ConfigDict(hide_input_in_errors=True)
)


def parse_receiver_config(data: Mapping[str, Any]) -> ReceiverConfigBase:
    """Validate one receiver entry from YAML, choosing the model by its ``type``."""
    return _ADAPTER.validate_python(dict(data))
