"""A lean HTTP/1.1 keep-alive load generator on raw asyncio streams.

Requests are encoded before the clock starts; each of `concurrency` connections sends one
request, reads the status line, headers and a Content-Length (or chunked) body, and takes
the next request from a shared iterator, so the generator does almost nothing per request
beyond a write and a few reads. uvloop is used when installed. The client records its own
CPU time: a client that used most of a core was at risk of being the bottleneck, and the
report says so.

`wrk` is not needed; when it is installed, `run_wrk` drives a fixed body with it as a
cross-check of the Python client (see `python -m bench --help`).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field


def request_bytes(host: str, port: int, path: str, body: bytes, *,
                  headers: dict[str, str] | None = None) -> bytes:
    head = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", "Content-Type: application/json",
            f"Content-Length: {len(body)}", "Connection: keep-alive", "User-Agent: dataslo-bench"]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


@dataclass
class LoadResult:
    requests: int = 0
    taken: int = 0  # requests taken from the iterator (all sent: a prefix of it)
    taken_units: int = 0
    units: int = 0  # events carried by the requests that got a 2xx
    elapsed: float = 0.0
    client_cpu: float = 0.0  # seconds of CPU this process used during the run
    statuses: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    sample_bodies: dict[int, bytes] = field(default_factory=dict)  # first body per non-2xx status

    @property
    def rate(self) -> float:
        return self.units / self.elapsed if self.elapsed else 0.0

    @property
    def client_cpu_share(self) -> float:
        return self.client_cpu / self.elapsed if self.elapsed else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def summary(self) -> dict:
        return {
            "requests": self.requests, "units": self.units, "elapsed_s": round(self.elapsed, 3),
            "rate_per_s": round(self.rate, 1), "client_cpu_share": round(self.client_cpu_share, 3),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "latency_ms": {"p50": round(self.percentile(0.5) * 1e3, 2),
                           "p90": round(self.percentile(0.9) * 1e3, 2),
                           "p99": round(self.percentile(0.99) * 1e3, 2),
                           "max": round(max(self.latencies, default=float("nan")) * 1e3, 2)},
            "errors": self.errors[:5],
        }


class _Conn:
    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def roundtrip(self, request: bytes) -> tuple[int, bytes]:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        lower = head.lower()
        i = lower.find(b"\r\ncontent-length:")
        if i >= 0:
            j = lower.index(b"\r\n", i + 2)
            length = int(lower[i + 17 : j])
            body = await self.reader.readexactly(length) if length else b""
        elif b"transfer-encoding: chunked" in lower:
            body = await self._chunked()
        else:
            body = b""
        if b"\r\nconnection: close" in lower:
            raise ConnectionResetError("server closed the connection")
        return status, body

    async def _chunked(self) -> bytes:
        out = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")
                return b"".join(out)
            out.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)

    def close(self) -> None:
        self.writer.close()


async def _open(host: str, port: int) -> _Conn:
    reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
    return _Conn(reader, writer)


async def drive(host: str, port: int, requests: Iterable[tuple[bytes, int]], concurrency: int,
                *, record_latency: bool = True, duration: float | None = None,
                on_response: Callable[[int, bytes, int], None] | None = None) -> LoadResult:
    """Send every (request bytes, unit count) from `requests` over `concurrency` keep-alive
    connections; return when all are answered. `on_response(status, body, units)` sees
    every answer (checks, progress). With `duration`, no request is started after that
    many seconds; what was taken from `requests` is always a prefix, and all of it is sent."""
    it: Iterator[tuple[bytes, int]] = iter(requests)
    result = LoadResult()
    conns = [await _open(host, port) for _ in range(concurrency)]
    statuses, latencies = result.statuses, result.latencies
    perf = time.perf_counter

    end = [float("inf")]

    async def worker(conn: _Conn) -> None:
        while perf() < end[0]:
            try:
                request, units = next(it)
            except StopIteration:
                break
            result.taken += 1
            result.taken_units += units
            t0 = perf()
            for attempt in range(3):
                try:
                    status, body = await conn.roundtrip(request)
                    break
                except (ConnectionError, asyncio.IncompleteReadError) as exc:
                    result.errors.append(f"{type(exc).__name__}: {exc}")
                    conn.close()
                    conn = await _open(host, port)
            else:
                statuses["conn-error"] += 1
                continue
            if record_latency:
                latencies.append(perf() - t0)
            statuses[status] += 1
            result.requests += 1
            if 200 <= status < 300:
                result.units += units
            elif status not in result.sample_bodies:
                result.sample_bodies[status] = body[:2000]
            if on_response is not None:
                on_response(status, body, units)
        conn.close()

    cpu0, t0 = time.process_time(), perf()
    if duration is not None:
        end[0] = t0 + duration
    await asyncio.gather(*(worker(c) for c in conns))
    result.elapsed = perf() - t0
    result.client_cpu = time.process_time() - cpu0
    return result


def run(coro):
    """Run a coroutine on uvloop when available (it is part of uvicorn[standard])."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - plain asyncio works, only slower
        return asyncio.run(coro)
    return uvloop.run(coro)


# -- optional cross-check with wrk -----------------------------------------------------------
def wrk_path() -> str | None:
    return shutil.which("wrk")


def run_wrk(url: str, body: bytes, concurrency: int, seconds: int, threads: int = 1) -> dict:
    """Drive `url` with one fixed body (fine for the no-op endpoint; the real endpoint
    would see duplicates). Returns requests/s and status counts parsed from wrk's output."""
    with tempfile.TemporaryDirectory() as tmp:
        body_file = os.path.join(tmp, "body.json")
        with open(body_file, "wb") as f:
            f.write(body)
        script = os.path.join(tmp, "post.lua")
        with open(script, "w") as f:
            f.write(
                f'local f = io.open("{body_file}", "rb")\nwrk.body = f:read("*a")\nf:close()\n'
                'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
            )
        out = subprocess.run(
            ["wrk", "-t", str(threads), "-c", str(concurrency), "-d", f"{seconds}s", "-s", script, url],
            capture_output=True, text=True, timeout=seconds + 60, check=False,
        ).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {"rate_per_s": float(rate.group(1)) if rate else None,
            "non_2xx": int(non2xx.group(1)) if non2xx else 0, "raw": out[-800:]}
