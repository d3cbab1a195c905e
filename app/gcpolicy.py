"""Keeping the process's long-lived caches out of the garbage collector's way.

The lineage caches (hundreds of thousands of edges and nodes) and the SLO evaluator's
state after its first full pass live as long as the process. CPython's full collections
walk every tracked object, so each one costs tens to hundreds of milliseconds on such a
heap, and they land inside whichever request or pass happens to allocate at the time: a
hub's blast radius or an incremental SLO pass doubles now and then for no reason of its
own. Moving what exists after warm-up into the permanent generation (`gc.freeze`) takes
it out of those walks; objects created later are collected as usual. Collect first, so no
garbage cycle is frozen with it.

Once per reason per process: a frozen object that later becomes part of a garbage cycle
is never reclaimed, so freezing at every pass (or for every app a test suite builds)
would trade pauses for a leak.
"""

from __future__ import annotations

import gc
import logging
import threading
import time

log = logging.getLogger(__name__)

_lock = threading.Lock()
_settled: set[str] = set()


def settle_long_lived(reason: str) -> None:
    """Collect, then freeze everything still alive; only the first call per reason acts."""
    with _lock:
        if reason in _settled:
            return
        _settled.add(reason)
        started = time.perf_counter()
        gc.collect()
        gc.freeze()
        log.info("froze %d long-lived objects after %s in %.0f ms", gc.get_freeze_count(), reason,
                 (time.perf_counter() - started) * 1000)
