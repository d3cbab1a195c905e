"""Databases and server processes for the benchmarks.

Servers are real `python -m uvicorn --factory ...` subprocesses on 127.0.0.1 free ports,
started after migrations were applied and stopped (SIGINT, then SIGKILL) afterwards. CPU
and RSS come from /proc, so the figures are the kernel's, not the process's own claim.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / ".work"
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/dataslo_bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- databases -------------------------------------------------------------------------------
def reset_postgres(url: str) -> str:
    """Drop and recreate the benchmark database; return the SQLAlchemy URL to use."""
    import psycopg

    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise SystemExit(f"--postgres-url must be a PostgreSQL URL, got {url}")
    name = parsed.database
    if not name or name in ("postgres", "template0", "template1"):
        raise SystemExit("--postgres-url must name a database the benchmark may drop and recreate")
    maintenance = parsed.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def reset_sqlite(name: str) -> str:
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / f"{name}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def migrate(url: str) -> None:
    from app.store.db import make_engine
    from app.store.migrate import upgrade

    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


def store_counts(url: str) -> dict[str, int]:
    """What the correctness checks compare with what was sent."""
    from app.store.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            one = lambda sql: int(conn.execute(text(sql)).scalar_one())
            return {
                "events": one("SELECT count(*) FROM lineage_events"),
                "runs": one("SELECT count(*) FROM runs"),
                "ended_runs": one("SELECT count(*) FROM runs WHERE state IN ('COMPLETED', 'FAILED', 'ABORTED')"),
                "jobs": one("SELECT count(*) FROM jobs"),
                "datasets": one("SELECT count(*) FROM datasets"),
                "dataset_versions": one("SELECT count(*) FROM dataset_versions"),
            }
    finally:
        engine.dispose()


def database_size(url: str) -> int | None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return sum(Path(f"{parsed.database}{s}").stat().st_size
                   for s in ("", "-wal") if Path(f"{parsed.database}{s}").exists())
    from app.store.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())
    finally:
        engine.dispose()


# -- processes -------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def process_tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        todo += _children(p)
    return pids


def rss_bytes(pid: int) -> int:
    """VmRSS of one process (kB in /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLK_TCK


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])
    return (total - idle) / CLK_TCK, total / CLK_TCK


@dataclass
class Server:
    name: str
    proc: subprocess.Popen
    port: int
    workers: int
    log_path: Path
    _log: object = field(repr=False, default=None)
    code: str | None = None  # app/ digest when started (dataslo servers)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def worker_pids(self) -> list[int]:
        """The processes that serve requests (uvicorn runs in-process with one worker)."""
        if self.workers == 1:
            return [self.pid]
        return [p for p in process_tree(self.pid) if p != self.pid]

    def rss(self) -> int:
        return sum(rss_bytes(p) for p in process_tree(self.pid))

    def cpu(self) -> float:
        return cpu_seconds(process_tree(self.pid))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self._log:
            self._log.close()

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def start_server(name: str, factory: str, *, workers: int = 1, env: dict[str, str] | None = None,
                 extra_args: list[str] | None = None, timeout: float = 60.0) -> Server:
    """Start `python -m uvicorn --factory <factory>` on a free loopback port; wait for /healthz."""
    WORK.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = WORK / f"server-{name}.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed in Server.stop
    cmd = [sys.executable, "-m", "uvicorn", "--factory", factory, "--host", "127.0.0.1", "--port", str(port),
           "--workers", str(workers), "--log-level", "warning", "--no-access-log", *(extra_args or [])]
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    server = Server(name, proc, port, workers, log_path, log)
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            server.stop()
            raise RuntimeError(f"server {name} exited with {proc.returncode}:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                if resp.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"server {name} did not become healthy in {timeout}s:\n{server.log_tail()}")
        time.sleep(0.1)
    if workers > 1:
        # Every worker must be up, or the first seconds measure fewer workers.
        while len(server.worker_pids()) < workers and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)
    return server


def app_digest() -> str:
    """Short hash of app/*.py: the code a server started now will run (others edit app/
    while benchmarks run, so each measurement records its own)."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted((ROOT / "app").rglob("*.py")):
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def service_env(database_url: str, **extra: str) -> dict[str, str]:
    """Environment for the real service: the store, auth off (loopback only), quiet logs."""
    return {"DATASLO_DATABASE_URL": database_url, "DATASLO_AUTH": "disabled",
            "DATASLO_LOG_LEVEL": "warning", **extra}
