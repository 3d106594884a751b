"""Opening the state store, and its transactions, on either backend.

`--state` names a SQLite file (the embedded default, `.hitl/state.db`) or a PostgreSQL database
(`postgresql://...`); each backend module holds what differs (connecting, locking, types, errors), and
everything here is the same for both. Writers queue on the store's write lock for up to
HITL_STATE_TIMEOUT (30 s by default). Every change is one transaction that takes the write lock before
reading what it decides on, and lands whole or not at all. Every store failure becomes a one-line
StoreError (exit 5); a constraint the store enforces becomes a refusal (exit 6).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

from hitl_cli import settings
from hitl_cli.errors import NotFound, StoreError, UsageError
from hitl_cli.store.schema import SCHEMA_VERSION, migrate, require_known_version
from hitl_cli.store.sqlite_backend import SqliteBackend

if TYPE_CHECKING:
    from hitl_cli.store.postgres_backend import DatabaseURL, PostgresBackend

    StateLocation = Path | DatabaseURL

DEFAULT_STATE_PATH = Path(".hitl") / "state.db"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def state_path(option: str | Path | None) -> StateLocation:
    """--state (or HITL_STATE, through the option): a file, a postgresql:// URL, or `.hitl/state.db`."""
    if option is None:
        return DEFAULT_STATE_PATH
    if isinstance(option, str) and option.startswith(POSTGRES_SCHEMES):
        # psycopg is imported only for a PostgreSQL store: every other run would pay its start-up time.
        from hitl_cli.store.postgres_backend import DatabaseURL

        return DatabaseURL(option)
    if Path(option).is_dir():
        raise UsageError(f"--state: {option} is a folder, not a state store file")
    return Path(option)


def backend_for(location: StateLocation) -> SqliteBackend | PostgresBackend:
    if isinstance(location, Path):
        return SqliteBackend(location)
    from hitl_cli.store.postgres_backend import PostgresBackend

    return PostgresBackend(location)


class Mode(Enum):
    READ = "read"  # must exist; opened read-only, never created or changed
    WRITE = "write"  # must exist
    CREATE = "create"  # created (a SQLite file with its folder; PostgreSQL tables) when missing


class Store:
    def __init__(self, backend: SqliteBackend | PostgresBackend, connection, timeout: float):
        self.backend = backend
        self.path = backend.location
        self._connection = connection
        self._timeout = timeout

    def close(self) -> None:
        self._connection.close()

    @contextmanager
    def write(self, operation: str) -> Iterator:
        """One write transaction; `operation` (submit, approve, ...) names it in errors."""
        with self._translated(operation):
            self.backend.begin_write(self._connection, self._timeout)
            try:
                migrate(self.backend, self._connection)
                yield self._connection
                self._connection.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise

    def upgrade(self) -> None:
        """Migrate a store an older hitl wrote, before anything reads it (a no-op when it is current or empty)."""
        with self._translated("upgrade"):
            if not 0 < self.backend.schema_version(self._connection) < SCHEMA_VERSION:
                return
            self.backend.begin_write(self._connection, self._timeout)
            try:
                migrate(self.backend, self._connection)
                self._connection.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise

    @contextmanager
    def read(self) -> Iterator:
        """One consistent snapshot of the store."""
        with self._translated("read"):
            self.backend.begin_read(self._connection, self._timeout)
            try:
                version = self.backend.schema_version(self._connection)
                require_known_version(version, self.path)
                if version == 0:
                    raise NotFound(f"state store {self.path} is empty (`hitl submit` initialises it)")
                if version < SCHEMA_VERSION:
                    raise StoreError(
                        f"state store {self.path} has schema version {version}, older than this hitl's "
                        f"({SCHEMA_VERSION}); any write command (hitl submit) upgrades it"
                    )
                yield self._connection
            finally:
                self._rollback()

    def _rollback(self) -> None:
        if self._connection.in_transaction:
            self._connection.execute("ROLLBACK")

    def _translated(self, operation: str):
        return self.backend.translated(operation, self._timeout)


@contextmanager
def open_store(location: StateLocation, mode: Mode) -> Iterator[Store]:
    store = _connected(backend_for(location), mode)
    try:
        if mode is not Mode.READ:
            store.upgrade()
        yield store
    finally:
        store.close()


class KeptReader:
    """Read transactions on one read-only connection kept open between them, for a caller that reads the store
    again and again (hitl_cli.policy_history.StoreSnapshots under a long-lived Engine): opening a connection costs
    SQLite a parse of the store's whole schema, about 0.4 ms of CPU, and PostgreSQL a new session. One read at a
    time on it (another, meanwhile, on a connection of its own). The connection is opened again when the store is
    no longer the file it opened (replaced, written over, removed) and after any failure; a kept connection that
    fails to begin a read is replaced and the read begun once more."""

    def __init__(self, location: StateLocation):
        self.location = location
        self._backend = backend_for(location)
        self._lock = threading.Lock()
        self._store: Store | None = None
        self._opened: object = None  # the store's identity when the connection was opened
        self._replaced: Store | None = None  # the connection kept before, until the new one has begun its read

    @contextmanager
    def read(self) -> Iterator:
        """One consistent snapshot, as Store.read gives it (NotFound when there is no store, or it is empty). While
        another read holds the kept connection (a long one, or one waiting for a locked store), this one is made on
        a connection of its own: a read never waits behind another."""
        if not self._lock.acquire(blocking=False):
            with open_store(self.location, Mode.READ) as store, store.read() as connection:
                yield connection
            return
        try:
            with ExitStack() as reading:
                kept = self._store is not None
                try:
                    connection = reading.enter_context(self._current().read())
                except StoreError:
                    if not kept:
                        raise
                    self.close()  # kept from before, and gone meanwhile (a database server restarted)
                    connection = reading.enter_context(self._current().read())
                self._retire()
                yield connection
        except BaseException:
            self.close()
            raise
        finally:
            self._lock.release()

    def holds_store(self) -> bool:
        """Whether there is a store: a SQLite file (a look at the folder; an empty file counts), a PostgreSQL
        database with hitl's tables (asked on the kept connection, not a session of its own). Without a SQLite file, the
        connection kept on the one removed is closed, unless a read holds it (the next look closes it then)."""
        if isinstance(self.location, Path):
            held = self._backend.holds_store()
            if not held and self._lock.acquire(blocking=False):
                try:
                    self.close()
                finally:
                    self._lock.release()
            return held
        try:
            with self.read():
                return True
        except NotFound:
            return False

    def _current(self) -> Store:
        identity = self._backend.identity()
        if self._store is None or identity != self._opened:
            opened = _connected(self._backend, Mode.READ, shared=True)
            self._replaced, self._store, self._opened = self._store, opened, identity
        return self._store

    def _retire(self) -> None:
        """Close the connection kept before, now that the new one has begun a read. Not sooner: a SQLite store
        with no connection open on its WAL index (SQLite opens it at a connection's first read) is recovered from
        its WAL by the next one, which forgets how much of the WAL was checkpointed; the WAL then cannot start
        over, and a reader opened again after every checkpoint would let it grow with every write."""
        replaced, self._replaced = self._replaced, None
        if replaced is not None:
            replaced.close()

    def close(self) -> None:
        self._retire()
        store, self._store = self._store, None
        if store is not None:
            store.close()


def _connected(backend: SqliteBackend | PostgresBackend, mode: Mode, shared: bool = False) -> Store:
    """A Store on a new connection (shared: usable from any thread, one at a time)."""
    timeout = settings.state_busy_timeout()
    backend.prepare(create=mode is Mode.CREATE)
    return Store(backend, backend.connect(read_only=mode is Mode.READ, timeout=timeout, shared=shared), timeout)


def upgrade_store(location: StateLocation) -> None:
    """Bring an existing store to the current schema, for a write command that reads it before writing."""
    if backend_for(location).holds_store():
        with open_store(location, Mode.WRITE):
            pass
