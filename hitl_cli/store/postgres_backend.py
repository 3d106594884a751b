"""The PostgreSQL backend: a store shared by a team on a database server (psycopg 3).

A write is one transaction that first takes a transaction-scoped advisory lock on the store (its schema),
so writers queue exactly as on SQLite's `BEGIN IMMEDIATE` and each sees everything committed before it; a
read is one REPEATABLE READ READ ONLY snapshot. The schema version lives in the table hitl_schema.
Append-only tables are guarded twice: triggers refuse UPDATE, DELETE and TRUNCATE, and no role holds those
privileges (the group role hitl_writer, when it exists, gets SELECT and INSERT only; on the other tables
also UPDATE, never DELETE). The URL's password never appears in a message: the store is named by host,
port and database.
"""

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors

from hitl_cli import settings
from hitl_cli.errors import NotFound, Refused, StoreError, UsageError

WRITER_ROLE = "hitl_writer"
_LOCK_CLASS = 0x6869  # "hi": the first key of hitl's advisory lock; the second is the store's schema


class DatabaseURL:
    """A `--state postgresql://...`; printed without its user or password."""

    def __init__(self, url: str):
        self.url = url
        try:
            parts = psycopg.conninfo.conninfo_to_dict(url)
        except psycopg.ProgrammingError:
            raise UsageError(f"--state: not a PostgreSQL connection URL ({url.split('://', 1)[0]}://...)") from None
        self.password = parts.get("password")
        host, port = parts.get("host") or "localhost", parts.get("port")
        self.display = f"postgresql://{host}{f':{port}' if port else ''}/{parts.get('dbname') or ''}"

    def __str__(self) -> str:
        return self.display

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DatabaseURL) and other.url == self.url

    def __hash__(self) -> int:
        return hash(self.url)

    def exists(self) -> bool:
        """Whether the database holds a store (a server that cannot be reached is a fault, not an absence). Asked
        in a read transaction with the store's lock timeout, as every read is: a store another session holds locked
        (a migration) is a fault after HITL_STATE_TIMEOUT, not a wait for as long as the lock is held."""
        backend = PostgresBackend(self)
        timeout = settings.state_busy_timeout()
        with backend.translated("open", timeout), backend.connect(read_only=True, timeout=0) as connection:
            backend.begin_read(connection, timeout)
            return backend.schema_version(connection) > 0

    def redact(self, message: str) -> str:
        return message.replace(self.password, "***") if self.password else message


class PostgresConnection:
    """psycopg's connection with the store's `?` placeholders, so one SQL text serves both backends."""

    def __init__(self, raw: psycopg.Connection):
        self.raw = raw

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> psycopg.Cursor:
        if not parameters:
            return self.raw.execute(sql.encode())  # bytes: psycopg reads no placeholders in it
        return self.raw.execute(_placeholders(sql), tuple(parameters))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.raw.cursor() as cursor:
            cursor.executemany(_placeholders(sql), rows)

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> "PostgresConnection":
        return self

    def __exit__(self, *_) -> None:
        self.close()


def _placeholders(sql: str) -> str:
    """The SQL is hitl's own (values always travel as parameters), so every `?` is a placeholder."""
    return sql.replace("%", "%%").replace("?", "%s")


class PostgresBackend:
    def __init__(self, url: DatabaseURL):
        self.location = url

    def __str__(self) -> str:
        return str(self.location)

    def holds_store(self) -> bool:
        return self.location.exists()

    def prepare(self, create: bool) -> None:
        """The database must exist (hitl never creates one); a command that needs a store needs its tables."""
        if not create and not self.holds_store():
            raise NotFound(f"no state store in {self} (`hitl submit` creates it; --state or HITL_STATE moves it)")

    def identity(self) -> None:
        """A database is the same store for as long as its URL names it."""
        return None

    def connect(self, read_only: bool, timeout: float, shared: bool = False) -> PostgresConnection:
        """shared: used from any thread, one at a time (psycopg's connections allow it)."""
        try:
            raw = psycopg.connect(self.location.url, autocommit=True, application_name="hitl",
                                  connect_timeout=max(2, int(timeout)) if timeout else 10)
        except psycopg.Error as error:
            raise StoreError(f"cannot open state store {self}: {self._reason(error)}") from None
        return PostgresConnection(raw)

    @staticmethod
    def begin_write(connection: PostgresConnection, timeout: float) -> None:
        connection.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
        connection.execute(f"SET LOCAL lock_timeout = '{int(timeout * 1000)}ms'")
        connection.execute("SELECT pg_advisory_xact_lock(?, hashtext(current_schema()))", (_LOCK_CLASS,))

    @staticmethod
    def begin_read(connection: PostgresConnection, timeout: float) -> None:
        connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        connection.execute(f"SET LOCAL lock_timeout = '{int(timeout * 1000)}ms'")

    @staticmethod
    def schema_version(connection: PostgresConnection) -> int:
        # pg_tables through the statement's snapshot: to_regclass() would answer from a catalog cache that
        # may not yet know a table another writer created while this one waited for the lock.
        created = "SELECT FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = 'hitl_schema'"
        if not connection.execute(f"SELECT EXISTS ({created})").fetchone()[0]:
            return 0
        return connection.execute("SELECT version FROM hitl_schema").fetchone()[0]

    @staticmethod
    def set_schema_version(connection: PostgresConnection, version: int) -> None:
        connection.execute("CREATE TABLE IF NOT EXISTS hitl_schema (version INTEGER NOT NULL)")
        connection.execute(_grant_if_writer("SELECT ON hitl_schema"))
        connection.execute("DELETE FROM hitl_schema")
        connection.execute("INSERT INTO hitl_schema (version) VALUES (?)", (version,))

    @staticmethod
    def table_statements(sql: str) -> str:
        """SQLite's dialect in PostgreSQL's: INTEGER PRIMARY KEY numbers itself, and every table gets the rowid
        SQLite gives it implicitly (insertion order; store queries never return it)."""
        sql = re.sub(r"\bINTEGER PRIMARY KEY\b", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", sql)
        sql = re.sub(r"\bINTEGER\b", "BIGINT", sql)
        return re.sub(r"(CREATE TABLE \w+ \()", r"\1\n        rowid BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,", sql)

    @staticmethod
    def append_only(table: str, what: str) -> list[str]:
        refusal = f"hitl_refuse_change('{what} are append-only')"
        return [
            "CREATE OR REPLACE FUNCTION hitl_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'restrict_violation'; END $$",
            f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} FOR EACH ROW EXECUTE FUNCTION {refusal}",
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION {refusal}",
        ]

    @staticmethod
    def privileges(table: str, append_only: bool) -> list[str]:
        """hitl never deletes a row, and never changes one of an append-only table: no role may, not even the
        tables' owner (who could grant it back, so the owner should not be the role hitl runs as)."""
        never = "UPDATE, DELETE, TRUNCATE" if append_only else "DELETE, TRUNCATE"
        return [
            f"REVOKE {never} ON {table} FROM PUBLIC, CURRENT_USER",
            _grant_if_writer(f"SELECT, INSERT{'' if append_only else ', UPDATE'} ON {table}"),
        ]

    @contextmanager
    def translated(self, operation: str, timeout: float) -> Iterator[None]:
        """PostgreSQL's failures as hitl's: a constraint or trigger refuses the change (exit 6), anything else
        is a store fault (exit 5), with the password never in the message."""
        try:
            yield
        except errors.IntegrityError as error:
            raise Refused(f"the state store refused the change ({self._reason(error)})") from None
        except errors.LockNotAvailable:
            raise StoreError(
                f"state store {self} is locked by another process ({operation} waited {timeout:g}s; "
                "HITL_STATE_TIMEOUT sets how long)"
            ) from None
        except errors.InsufficientPrivilege as error:
            raise StoreError(f"state store {self}: {self._reason(error)} (see docs/workflow.md, roles)") from None
        except psycopg.Error as error:
            raise StoreError(f"state store {self}: {self._reason(error)}") from None

    def _reason(self, error: psycopg.Error) -> str:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return self.location.redact(first)


def _grant_if_writer(privileges: str) -> str:
    """A GRANT to the group role hitl_writer, when the cluster has one (a one-role setup has none)."""
    return (
        f"DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{WRITER_ROLE}') THEN "
        f"GRANT {privileges} TO {WRITER_ROLE}; END IF; END $$"
    )
