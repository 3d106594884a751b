"""The analyses of the statements a process saw last, so that each distinct one is analysed once: the facts depend on
the text and the dialect alone, and a batch repeats statements (the same query on the same system in many plans).
Whoever analyses (the analyst thread, or hitl serve's analyst process) is asked only for what is not remembered."""

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future

from hitl_cli.statements.dialects import dialect_for

# The last this many distinct (statement, dialect) pairs are remembered, of statements no longer than
# REMEMBERED_LENGTH, so that what is remembered stays within some tens of MB.
REMEMBERED = 4096
REMEMBERED_LENGTH = 1000

Key = tuple[str | None, str]  # (statement, dialect)
# Given a statement, its dialect and whether to remember the answer: a Future of its analysis in JSON.
Analyst = Callable[[str | None, str, bool], Future]


class Remembered:
    """The analyses of the last `size` distinct (statement, dialect) pairs; shared by every thread."""

    def __init__(self, size: int):
        self._size = size
        self._items: OrderedDict[Key, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Key) -> bytes | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: Key, analysed: bytes) -> None:
        with self._lock:
            self._items[key] = analysed
            self._items.move_to_end(key)
            if len(self._items) > self._size:
                self._items.popitem(last=False)


remembered = Remembered(REMEMBERED)


def analysis_future(statement: str | None, system: str | None, analyst: Analyst) -> Future:
    """The analysis of a statement read in target.system's dialect, in JSON, as a Future: done at once for a statement
    remembered, else the analyst's (which remembers the answer when told to)."""
    dialect = dialect_for(system)
    remember = statement is None or len(statement) <= REMEMBERED_LENGTH
    if remember:
        known = remembered.get((statement, dialect))
        if known is not None:
            done: Future = Future()
            done.set_result(known)
            return done
    return analyst(statement, dialect, remember)


def _forget() -> None:
    """A process forked from this one may have the lock taken by a thread it does not have."""
    global remembered
    remembered = Remembered(REMEMBERED)


os.register_at_fork(after_in_child=_forget)
