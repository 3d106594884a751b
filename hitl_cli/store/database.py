"""What the store's queries need of a connection: sqlite3's, or the PostgreSQL backend's (same `?` SQL)."""

from collections.abc import Iterable, Sequence
from typing import Any, Protocol


class Connection(Protocol):
    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Any: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> Any: ...
