"""Python's cyclic garbage collector, kept off the objects of a read that builds many and keeps them all.

Building the views of a 10,000-request queue makes about a million objects, none of them garbage until they
are dropped; the collector's passes over them, as they were made and again after, took about 40% of `hitl
queue` (bench/RESULTS.md). A read makes no reference cycles (tests/workflow/test_queue_scale.py), so
reference counting alone frees everything it made when its caller drops it.
"""

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """The collector is off inside the block; after it, what the block made is moved out of the collector's
    sight (gc.freeze) rather than scanned. A block that fails is not frozen: its exception and traceback are
    cycles. Only the caller that found the collector on turns it back on, so a nested or concurrent block never
    leaves it off."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    except BaseException:
        if was_on:
            gc.enable()
        raise
    if was_on:
        gc.freeze()
        gc.enable()
