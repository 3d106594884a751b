"""Opening the state store, and its transactions.

SQLite in WAL mode: readers never block the writer, and writers queue on the busy timeout
(HITL_STATE_TIMEOUT, 30 s by default). Every change is one `BEGIN IMMEDIATE` transaction, so
it takes the write lock before reading what it decides on, and lands whole or not at all.
Every SQLite failure becomes a one-line StoreError (exit 5); a constraint the store enforces
becomes a refusal (exit 6).
"""

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from urllib.parse import quote

from hitl_cli import settings
from hitl_cli.errors import NotFound, Refused, StoreError
from hitl_cli.store.schema import SCHEMA_VERSION, migrate, require_known_version, schema_version

DEFAULT_STATE_PATH = Path(".hitl") / "state.db"


def state_path(option: Path | None) -> Path:
    """--state (or HITL_STATE, through the option) or `.hitl/state.db` under the working directory."""
    return option if option is not None else DEFAULT_STATE_PATH


class Mode(Enum):
    READ = "read"  # must exist; opened read-only, never created or changed
    WRITE = "write"  # must exist
    CREATE = "create"  # created (with its folder) when missing


class Store:
    def __init__(self, path: Path, connection: sqlite3.Connection, timeout: float):
        self.path = path
        self._connection = connection
        self._timeout = timeout

    def close(self) -> None:
        self._connection.close()

    @contextmanager
    def write(self, operation: str) -> Iterator[sqlite3.Connection]:
        """One write transaction; `operation` (submit, approve, ...) names it in errors."""
        with self._translated(operation):
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                migrate(self._connection, str(self.path))
                yield self._connection
                self._connection.execute("COMMIT")
            except BaseException:
                if self._connection.in_transaction:
                    self._connection.execute("ROLLBACK")
                raise

    def upgrade(self) -> None:
        """Migrate a store an older hitl wrote, before anything reads it (a no-op when it is current or empty)."""
        with self._translated("upgrade"):
            if not 0 < schema_version(self._connection) < SCHEMA_VERSION:
                return
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                migrate(self._connection, str(self.path))
                self._connection.execute("COMMIT")
            except BaseException:
                if self._connection.in_transaction:
                    self._connection.execute("ROLLBACK")
                raise

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """One consistent snapshot of the store."""
        with self._translated("read"):
            self._connection.execute("BEGIN")
            try:
                version = schema_version(self._connection)
                require_known_version(version, str(self.path))
                if version == 0:
                    raise NotFound(f"state store {self.path} is empty (`hitl submit` initialises it)")
                if version < SCHEMA_VERSION:
                    raise StoreError(
                        f"state store {self.path} has schema version {version}, older than this hitl's "
                        f"({SCHEMA_VERSION}); any write command (hitl submit) upgrades it"
                    )
                yield self._connection
            finally:
                if self._connection.in_transaction:
                    self._connection.execute("ROLLBACK")

    @contextmanager
    def _translated(self, operation: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.IntegrityError as error:
            raise Refused(f"the state store refused the change ({error})") from None
        except sqlite3.OperationalError as error:
            if "locked" in str(error) or "busy" in str(error):
                raise StoreError(
                    f"state store {self.path} is locked by another process ({operation} waited {self._timeout:g}s; "
                    "HITL_STATE_TIMEOUT sets how long)"
                ) from None
            raise StoreError(f"state store {self.path}: {error}") from None
        except sqlite3.Error as error:
            raise StoreError(f"state store {self.path} is unusable: {error}") from None


@contextmanager
def open_store(path: Path, mode: Mode) -> Iterator[Store]:
    timeout = settings.state_busy_timeout()
    if not path.exists():
        if mode is not Mode.CREATE:
            raise NotFound(f"no state store at {path} (`hitl submit` creates it; --state or HITL_STATE moves it)")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreError(f"cannot create the state store folder {path.parent}: {error.strerror}") from None
    elif not path.is_file():
        raise StoreError(f"state store {path} is not a file")
    store = Store(path, _connect(path, mode, timeout), timeout)
    try:
        if mode is not Mode.READ:
            store.upgrade()
        yield store
    finally:
        store.close()


def upgrade_store(path: Path) -> None:
    """Bring an existing store to the current schema, for a write command that reads it before writing."""
    if path.is_file():
        with open_store(path, Mode.WRITE):
            pass


def _connect(path: Path, mode: Mode, timeout: float) -> sqlite3.Connection:
    target = f"file:{quote(str(path.resolve()))}?mode={'ro' if mode is Mode.READ else 'rwc'}"
    try:
        connection = sqlite3.connect(target, uri=True, timeout=timeout, isolation_level=None)
    except sqlite3.Error as error:
        raise StoreError(f"cannot open state store {path}: {error}") from None
    try:
        connection.execute("PRAGMA foreign_keys = ON")
        if mode is not Mode.READ:
            journal = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if journal != "wal":
                raise StoreError(f"state store {path} cannot use write-ahead logging (journal mode {journal})")
            connection.execute("PRAGMA synchronous = FULL")
    except sqlite3.Error as error:
        connection.close()
        message = "is locked by another process" if "locked" in str(error) else f"is unusable: {error}"
        raise StoreError(f"state store {path} {message}") from None
    except StoreError:
        connection.close()
        raise
    return connection
