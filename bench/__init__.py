"""Ingest benchmarks for dataslo: `python -m bench --help`.

Everything here runs against real servers (uvicorn subprocesses on loopback) driven by a
lean asyncio HTTP/1.1 client, so the numbers include HTTP parsing, validation, the group
commit and the database, exactly as a producer sees them.
"""
