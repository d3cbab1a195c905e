"""The `dataslo` command: serve, migrate, manage tokens, send event files."""

from __future__ import annotations

import gzip
import ipaddress
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from app.settings import Settings, get_settings

app = typer.Typer(help="dataslo: SLOs and burn-rate alerts for data products, fed by OpenLineage.",
                  no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens (scopes: ingest, read, admin).", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(token_app, name="token")


def _session_factory(settings: Settings):
    from app.store.db import make_engine, make_session_factory

    return make_session_factory(make_engine(settings.database_url))


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(settings: Settings, host: str, active_tokens: int, insecure: bool) -> str | None:
    """Why serving on `host` would expose an unauthenticated API, or None if it is safe."""
    if is_loopback(host) or insecure:
        return None
    if settings.auth == "disabled":
        return (f"refusing to listen on {host} with DATASLO_AUTH=disabled: anyone on the network could "
                "write and read lineage. Bind to 127.0.0.1, enable auth, or pass --insecure.")
    if active_tokens == 0:
        return (f"refusing to listen on {host} without any API token: create one with "
                "`dataslo token create NAME --scope ingest --scope read`, or pass --insecure.")
    return None


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    from app.store.db import make_engine
    from app.store.migrate import upgrade

    settings = get_settings()
    upgrade(make_engine(settings.database_url))
    typer.echo(f"database at {settings.database_url} is up to date")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default DATASLO_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default DATASLO_PORT).")] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    insecure: Annotated[bool, typer.Option(help="Allow a non-loopback bind without auth.")] = False,
    demo: Annotated[bool, typer.Option(help="Load demo events into an empty database.")] = False,
) -> None:
    """Apply migrations and run the HTTP service."""
    import os

    import uvicorn

    from app.auth import count_active_tokens
    from app.store.db import make_engine, make_session_factory
    from app.store.migrate import upgrade

    settings = get_settings()
    host = host or settings.host
    port = port or settings.port
    engine = make_engine(settings.database_url)
    upgrade(engine)
    with make_session_factory(engine)() as session:
        problem = check_exposure(settings, host, count_active_tokens(session), insecure)
    if problem:
        typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(2)
    if demo:
        from app.demo import load_demo

        loaded = load_demo(make_session_factory(engine))
        typer.echo(f"demo data: {loaded} events loaded" if loaded else "demo data: database not empty, skipped")
    engine.dispose()
    os.environ["DATASLO_HOST"] = host
    typer.echo(f"dataslo listening on http://{host}:{port} (database {settings.database_url})")
    uvicorn.run("app.main:create_app", factory=True, host=host, port=port, workers=workers,
                log_level=settings.log_level, access_log=False)


@token_app.command("create")
def token_create(
    name: str,
    scope: Annotated[list[str], typer.Option("--scope", "-s", help="ingest, read or admin; repeatable.")] = None,  # type: ignore[assignment]
) -> None:
    """Create a token and print its secret once."""
    from app.auth import create_token
    from app.errors import DomainError

    with _session_factory(get_settings())() as session:
        try:
            secret = create_token(session, name, scope or ["ingest", "read"])
        except DomainError as exc:
            typer.echo(f"error: {exc.message}", err=True)
            raise typer.Exit(2) from None
        session.commit()
    typer.echo(secret)


@token_app.command("list")
def token_list() -> None:
    from app.auth import list_tokens

    with _session_factory(get_settings())() as session:
        for t in list_tokens(session):
            state = f"revoked {t.revoked_at:%Y-%m-%d}" if t.revoked_at else "active"
            typer.echo(f"{t.name}\t{t.prefix}…\t{t.scopes}\t{state}\tcreated {t.created_at:%Y-%m-%d %H:%M}")


@token_app.command("revoke")
def token_revoke(name: str) -> None:
    from app.auth import revoke_token
    from app.errors import DomainError

    with _session_factory(get_settings())() as session:
        try:
            revoke_token(session, name)
        except DomainError as exc:
            typer.echo(f"error: {exc.message}", err=True)
            raise typer.Exit(2) from None
        session.commit()
    typer.echo(f"revoked {name}")


def read_events(path: str) -> list:
    """A JSON event, a JSON array of events, or JSON Lines; '-' reads standard input."""
    data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    text = data.decode("utf-8").strip()
    if not text:
        return []
    try:
        doc = json.loads(text)
        return doc if isinstance(doc, list) else [doc]
    except json.JSONDecodeError:
        events = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    events.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise typer.BadParameter(f"{path}:{number}: not JSON: {exc.msg}") from None
        return events


@app.command()
def ingest(
    file: Annotated[str, typer.Argument(help="JSON or JSONL file of events, or '-' for stdin.")],
    url: Annotated[str, typer.Option(help="Service base URL.")] = "http://127.0.0.1:8000",
    token: Annotated[str | None, typer.Option(envvar="DATASLO_TOKEN", help="Bearer token.")] = None,
    batch_size: Annotated[int, typer.Option(help="Events per batch request.")] = 500,
) -> None:
    """Post events to a running service through the batch endpoint, with a progress bar."""
    import httpx
    from rich.progress import Progress

    events = read_events(file)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    failed = 0
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client, Progress() as progress:
        task = progress.add_task("ingesting", total=len(events))
        for start in range(0, len(events), batch_size):
            chunk = events[start : start + batch_size]
            response = client.post("/api/v1/lineage/batch", json=chunk)
            if response.status_code >= 400 and response.status_code != 503:
                typer.echo(f"error: {response.status_code} {response.text}", err=True)
                raise typer.Exit(1)
            body = response.json()
            for failure in body.get("failed_events", []):
                failed += 1
                typer.echo(f"event {start + failure['index']}: {failure['reason']}", err=True)
            progress.advance(task, len(chunk))
    typer.echo(f"{len(events) - failed} of {len(events)} events accepted")
    if failed:
        raise typer.Exit(1)


silence_app = typer.Typer(help="Silences: record alerts without sending them.", no_args_is_help=True)
app.add_typer(silence_app, name="silence")


@silence_app.command("add")
def silence_add(
    matcher: Annotated[list[str], typer.Argument(help="name=value, name=~regex, name!=value, name!~regex")],
    comment: Annotated[str, typer.Option("--comment", "-c", help="Why (on-call reads this).")],
    author: Annotated[str | None, typer.Option("--author", "-a", help="Default: $USER.")] = None,
    duration: Annotated[str | None, typer.Option("--duration", "-d", help="e.g. 2h (default 1h).")] = None,
    start: Annotated[str | None, typer.Option(help="ISO time with offset (default now).")] = None,
    end: Annotated[str | None, typer.Option(help="ISO time with offset, instead of --duration.")] = None,
) -> None:
    """Create a silence and print its id."""
    import getpass
    from datetime import datetime, timedelta

    from app.alerts.matchers import parse_expression
    from app.alerts.routing import parse_duration
    from app.alerts.silences import create_silence
    from app.errors import DomainError
    from app.store.types import utcnow

    try:
        matchers = [parse_expression(m) for m in matcher]
        now = utcnow()
        starts = datetime.fromisoformat(start) if start else now
        if end and duration:
            raise ValueError("give --end or --duration, not both")
        ends = (datetime.fromisoformat(end) if end
                else starts + timedelta(seconds=parse_duration(duration or "1h")))
        if starts.utcoffset() is None or ends.utcoffset() is None:
            raise ValueError("times need a UTC offset, e.g. 2026-12-01T10:00:00+00:00")
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    with _session_factory(get_settings())() as session:
        try:
            silence = create_silence(session, matchers=matchers, starts_at=starts, ends_at=ends,
                                     created_by=author or getpass.getuser(), comment=comment, now=now)
        except DomainError as exc:
            details = "; ".join(f"{d['path']}: {d['reason']}" for d in exc.details or [])
            typer.echo(f"error: {exc.message}" + (f" ({details})" if details else ""), err=True)
            raise typer.Exit(2) from None
        session.commit()
        typer.echo(silence.id)


@silence_app.command("list")
def silence_list(
    state: Annotated[str | None, typer.Option(help="pending, active or expired (default: not expired).")] = None,
) -> None:
    """List silences: id, state, matchers, end, author, comment."""
    from app.alerts.silences import list_silences, silence_state
    from app.store.types import utcnow

    now = utcnow()
    with _session_factory(get_settings())() as session:
        for s in list_silences(session, now, state):
            current = silence_state(s, now)
            if state is None and current == "expired":
                continue
            shown = " ".join(
                f"{m['name']}{('=~' if m['regex'] else '=') if m['equal'] else ('!~' if m['regex'] else '!=')}{m['value']}"
                for m in s.matchers
            )
            typer.echo(f"{s.id}\t{current}\t{shown}\tuntil {s.ends_at:%Y-%m-%d %H:%M}Z\t{s.created_by}\t{s.comment}")


@silence_app.command("expire")
def silence_expire(silence_id: int) -> None:
    """End a silence now (it stays listed as expired)."""
    from app.alerts.silences import expire_silence
    from app.errors import DomainError
    from app.store.types import utcnow

    with _session_factory(get_settings())() as session:
        try:
            expire_silence(session, silence_id, utcnow())
        except DomainError as exc:
            typer.echo(f"error: {exc.message}", err=True)
            raise typer.Exit(2) from None
        session.commit()
    typer.echo(f"expired silence {silence_id}")


slo_app = typer.Typer(help="SLOs: apply definitions, list them, export Prometheus rules.", no_args_is_help=True)
app.add_typer(slo_app, name="slo")


@slo_app.command("apply")
def slo_apply(
    file: Annotated[Path, typer.Argument(help="YAML file of native or OpenSLO documents.", exists=True,
                                         dir_okay=False, readable=True)],
) -> None:
    """Create or replace every SLO in FILE (all or nothing: one invalid SLO applies none)."""
    from app.slo.loader import SLOValidationError, load_slo_documents
    from app.slo.store import apply_definition

    try:
        slos = load_slo_documents(file.read_text(encoding="utf-8"), str(file))
    except SLOValidationError as exc:
        for problem in exc.problems:
            typer.echo(f"error: {problem}", err=True)
        raise typer.Exit(2) from None
    with _session_factory(get_settings())() as session:
        results = [apply_definition(session, slo, source="cli", source_file=str(file.resolve()))
                   for slo in slos]
        session.commit()
    for r in results:
        verb = "created" if r.created else ("updated" if r.changed else "unchanged")
        typer.echo(f"{verb}\t{r.row.name}")


@slo_app.command("list")
def slo_list() -> None:
    """Every evaluated SLO: id, name, target, state, budget remaining, severity."""
    from app.catalog import Page
    from app.slo.views import list_slos

    with _session_factory(get_settings())() as session:
        offset = 0
        while True:
            items, total = list_slos(session, Page(limit=1000, offset=offset))
            for i in items:
                budget = "-" if i["budgetRemaining"] is None else f"{i['budgetRemaining']:.2%}"
                typer.echo(f"{i['id']}\t{i['name']}\t{i['target']['nodeId']}\t{i['state'] or 'pending'}"
                           f"\t{budget}\t{i['severity'] or '-'}")
            offset += len(items)
            if not items or offset >= total:
                break


@slo_app.command("export-rules")
def slo_export_rules(
    out: Annotated[Path | None, typer.Option(help="Write to this file instead of standard output.")] = None,
) -> None:
    """Prometheus recording and alerting rules equivalent to dataslo's own burn-rate conditions."""
    from sqlalchemy import select

    from app.slo.rules import rules_yaml
    from app.slo.store import definition_of
    from app.store.slo_models import SloDefinitionRow
    from app.store.types import utcnow

    with _session_factory(get_settings())() as session:
        slos = [definition_of(row) for row in session.scalars(select(SloDefinitionRow))]
    text = rules_yaml(slos, utcnow())
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"{len(slos)} SLOs: rules written to {out}", err=True)


if __name__ == "__main__":  # pragma: no cover
    app()
