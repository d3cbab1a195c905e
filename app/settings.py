"""Service configuration.

Every setting is read from an environment variable ``DATASLO_<NAME>`` (or a ``.env``
file) so that the same image runs on a laptop and in production without code changes.
The README lists them; keep that table in step with this class.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DATASLO_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///./dataslo.db",
        description="SQLAlchemy URL. SQLite (WAL) is the embedded default; use "
        "postgresql+psycopg://user@host/db in production.",
    )
    host: str = Field(default="127.0.0.1", description="Interface `dataslo serve` binds to.")
    port: int = Field(default=8000, description="Port `dataslo serve` binds to.")
    auth: Literal["auto", "required", "disabled"] = Field(
        default="auto",
        description="auto: tokens are enforced as soon as one exists; required: always; "
        "disabled: never (refused unless bound to loopback or --insecure).",
    )
    max_body_bytes: int = Field(
        default=5 * 1024 * 1024,
        description="Largest accepted request body, after gzip decompression (413 past it).",
    )
    ingest_max_batch: int = Field(
        default=500, description="Most events the group-commit writer puts in one transaction."
    )
    ingest_writers: int | None = Field(
        default=None,
        description="Concurrent group-commit writers per process (default 1). More than one "
        "only helps when batches touch disjoint jobs: writers lock the rows they merge into, and "
        "on typical traffic the second writer mostly waits for the first one's COMMIT.",
    )
    batch_max_events: int = Field(
        default=10_000, description="Most events accepted in one POST /api/v1/lineage/batch."
    )
    sqlite_synchronous: Literal["FULL", "NORMAL"] = Field(
        default="FULL",
        description="SQLite fsync policy. FULL keeps every acknowledged event across power loss.",
    )
    slo_dir: Path | None = Field(
        default=None, description="Folder of SLO YAML files loaded at start-up."
    )
    base_url: str = Field(
        default="http://127.0.0.1:8000", description="External URL used in links of notifications."
    )
    log_level: str = Field(default="info", description="Log level of the service.")
    lineage_cache_max_edges: int = Field(
        default=1_000_000, ge=0,
        description="Largest estate cached in memory per process for lineage answers: up to "
        "this many open edges (the graph) and this many datasets plus jobs (what impact shows "
        "of each). Past it, answers read the database instead.",
    )

    # -- SLO evaluation (issue 4) ---------------------------------------------------------
    slo_eval_interval_seconds: float = Field(
        default=60, gt=0,
        description="How often every SLO is evaluated (schedule ticks and running runs "
        "turn bad with no event, so evaluation must also run on a clock).",
    )
    slo_eval_debounce_seconds: float = Field(
        default=2, ge=0,
        description="After events are stored, evaluate within this many seconds instead of "
        "waiting for the interval; a burst of events causes one pass.",
    )
    slo_scheduler: bool = Field(
        default=True,
        description="Run scheduled SLO evaluation in this process. Tests and one-off tools "
        "turn it off and call the evaluator at chosen times instead.",
    )
    slo_history_retention_days: float = Field(
        default=400, gt=0,
        description="Days of stored SLO evaluations (history charts) kept; each SLO's latest is "
        "always kept. Longer than a yearly calendar window by default.",
    )

    # -- alerting (issue 5) -------------------------------------------------------------
    alert_routes_file: Path | None = Field(
        default=None,
        description="Routing YAML: receivers, routes, default route, maintenance windows. "
        "Unset: incidents are recorded but nobody is notified.",
    )
    alert_stuck_run_after: float = Field(
        default=6 * 3600,
        description="Seconds a run may stay RUNNING before a stuck-run incident opens.",
    )
    alert_symptom_grace: float = Field(
        default=3600,
        description="Seconds during which an SLO resolved together with its root cause "
        "cannot open a new incident until it has been healthy once (lets it catch up).",
    )
    alert_delivery_interval: float = Field(
        default=1.0, description="Seconds between runs of the notification delivery job."
    )
    alert_housekeeping_interval: float = Field(
        default=30.0,
        description="Seconds between runs of the stuck-run, schema-change and repeat job.",
    )
    alert_retry_base: float = Field(
        default=2.0, description="First retry delay ceiling in seconds (doubles per attempt)."
    )
    alert_retry_cap: float = Field(
        default=300.0, description="Longest delay between two delivery attempts, in seconds."
    )
    alert_delivery_max_age: float = Field(
        default=24 * 3600,
        description="Seconds after which an undelivered notification is given up (expired).",
    )
    alert_http_timeout: float = Field(
        default=10.0, description="Timeout in seconds of one request to a receiver."
    )


@lru_cache
def get_settings() -> Settings:
    return Settings()
