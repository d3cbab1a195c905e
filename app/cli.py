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
    from app.errors import DomainError
    from app.auth import create_token

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


if __name__ == "__main__":  # pragma: no cover
    app()
