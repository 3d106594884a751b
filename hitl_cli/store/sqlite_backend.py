"""The SQLite backend: the embedded default store, one file.

WAL mode: readers never block the writer, and writers queue on the busy timeout. A write is one
`BEGIN IMMEDIATE` transaction, so it takes the write lock before reading what it decides on.
`PRAGMA user_version` holds the schema version.
"""

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from hitl_cli.errors import NotFound, Refused, StoreError


class SqliteBackend:
    def __init__(self, path: Path):
        self.location = path

    def __str__(self) -> str:
        return str(self.location)

    def holds_store(self) -> bool:
        return self.location.exists()

    def prepare(self, create: bool) -> None:
        """Check the file is there (or make its folder, when `create`)."""
        path = self.location
        if not path.exists():
            if not create:
                raise NotFound(f"no state store at {path} (`hitl submit` creates it; --state or HITL_STATE moves it)")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise StoreError(f"cannot create the state store folder {path.parent}: {error.strerror}") from None
        elif not path.is_file():
            raise StoreError(f"state store {path} is not a file")

    def identity(self) -> tuple[int, ...] | None:
        """Which file the store is now, and as it was last written: its device and inode (another file after the
        store was replaced), its size and change time (new contents written over the same file, as `cp` does: a
        connection kept open would go on reading the pages it has cached, which SQLite checks in WAL mode against
        the WAL index alone). Commits go to the WAL and leave the file as it is; a checkpoint changes it."""
        try:
            found = os.stat(self.location)
        except OSError:
            return None
        return found.st_dev, found.st_ino, found.st_size, found.st_ctime_ns

    def connect(self, read_only: bool, timeout: float, shared: bool = False) -> sqlite3.Connection:
        """shared: the connection may be used from any thread, one at a time (its caller holds a lock)."""
        path = self.location
        target = f"file:{quote(str(path.resolve()))}?mode={'ro' if read_only else 'rwc'}"
        try:
            connection = sqlite3.connect(target, uri=True, timeout=timeout, isolation_level=None,
                                         check_same_thread=not shared)
        except sqlite3.Error as error:
            raise StoreError(f"cannot open state store {path}: {error}") from None
        try:
            connection.execute("PRAGMA foreign_keys = ON")
            if not read_only:
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

    @staticmethod
    def begin_write(connection: sqlite3.Connection, timeout: float) -> None:
        connection.execute("BEGIN IMMEDIATE")

    @staticmethod
    def begin_read(connection: sqlite3.Connection, timeout: float) -> None:
        connection.execute("BEGIN")

    @staticmethod
    def schema_version(connection: sqlite3.Connection) -> int:
        return connection.execute("PRAGMA user_version").fetchone()[0]

    @staticmethod
    def set_schema_version(connection: sqlite3.Connection, version: int) -> None:
        connection.execute(f"PRAGMA user_version = {int(version)}")

    @staticmethod
    def table_statements(sql: str) -> str:
        """The migrations' table definitions are written in SQLite's dialect."""
        return sql

    @staticmethod
    def append_only(table: str, what: str) -> list[str]:
        return [
            f"CREATE TRIGGER {table}_no_{change} BEFORE {change.upper()} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{what} are append-only'); END"
            for change in ("update", "delete")
        ]

    @staticmethod
    def privileges(table: str, append_only: bool) -> list[str]:
        """SQLite has no roles: its file's permissions are its privileges."""
        return []

    @contextmanager
    def translated(self, operation: str, timeout: float) -> Iterator[None]:
        """SQLite's failures as hitl's: a constraint refuses the change (exit 6), anything else is a store fault."""
        try:
            yield
        except sqlite3.IntegrityError as error:
            raise Refused(f"the state store refused the change ({error})") from None
        except sqlite3.OperationalError as error:
            if "locked" in str(error) or "busy" in str(error):
                raise StoreError(
                    f"state store {self} is locked by another process ({operation} waited {timeout:g}s; "
                    "HITL_STATE_TIMEOUT sets how long)"
                ) from None
            raise StoreError(f"state store {self}: {error}") from None
        except sqlite3.Error as error:
            raise StoreError(f"state store {self} is unusable: {error}") from None
