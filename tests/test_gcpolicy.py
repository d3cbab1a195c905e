"""app.gcpolicy: long-lived state leaves the collector's walks once, without leaking garbage."""

from __future__ import annotations

import gc
import weakref

from app.gcpolicy import settle_long_lived


class _Node:
    def __init__(self) -> None:
        self.peer: _Node | None = None


def test_freezes_live_objects_once_per_reason_and_collects_garbage_first() -> None:
    gc.unfreeze()
    try:
        garbage = _Node()
        garbage.peer = _Node()
        garbage.peer.peer = garbage  # a cycle: only the collector can free it
        dead = weakref.ref(garbage)
        del garbage
        kept = [_Node() for _ in range(1000)]

        settle_long_lived("test: first reason")
        frozen = gc.get_freeze_count()
        assert dead() is None  # collected before the freeze, not frozen forever
        assert frozen >= len(kept)

        more = [_Node() for _ in range(10_000)]
        settle_long_lived("test: first reason")  # same reason again: nothing is frozen
        # (Frozen objects still die by reference count, e.g. in other tests' server
        # threads, so the count may drop; it must not take in the new objects.)
        again = gc.get_freeze_count()
        assert again < frozen + len(more) // 2

        settle_long_lived("test: second reason")
        assert gc.get_freeze_count() >= again + len(more) // 2
    finally:
        gc.unfreeze()
