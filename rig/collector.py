"""Python's cycle collector in a process that runs a plan or serves a simulated bench.

A plan run keeps some 150 000 objects from its start to its end (the modules, pytest's items,
the bench and its drivers; the simulator: the meter models) and makes millions of short-lived
ones (messages, readings, records, energy flows). With the collector's defaults (a young
collection every 700 allocations) every full collection walks all the long-lived objects
again, and the more positions the more often it runs. `settled_heap` takes what exists at the
start out of the collector's view (`gc.freeze`, which is what it is for: objects that live as
long as the process) and lets the young generation grow to 10 000 allocations before a
collection. Measured with `gc.callbacks` on the type test at 48 positions, from the first plan
item to the last: the rig spent 1.16 s in collections (12 full ones of some 60 ms), 0.11 s
with it; the simulator 0.58 s, 0.19 s with it. Reference cycles made during the block are
still collected, only later; nothing is kept that the defaults would free, apart from the
cycles already garbage at the start (one collection before the freeze frees them).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# Young collection after 10 000 net allocations (CPython's default: 700); the older
# generations each after 10 collections of the one below (default 10, 10).
THRESHOLDS = (10_000, 10, 10)


@contextmanager
def settled_heap(thresholds: tuple[int, int, int] = THRESHOLDS) -> Iterator[None]:
    """For the block: the objects alive at its start frozen out of collection, `thresholds`
    in force; after it the collector as it was (thresholds back, the objects unfrozen)."""
    before = gc.get_threshold()
    gc.collect()  # cycles that are garbage already are freed, not frozen
    gc.freeze()
    gc.set_threshold(*thresholds)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
