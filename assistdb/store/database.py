"""Opening the database: URLs, engine settings per dialect, transactions, and error translation."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import platformdirs
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import StaticPool

from assistdb.errors import DatabaseError

DATABASE_URL_ENV = "ASSISTDB_DATABASE_URL"
SQLITE_BUSY_TIMEOUT_MS = 30_000


def default_database_path() -> Path:
    """Where the embedded SQLite archive lives unless told otherwise."""
    return Path(platformdirs.user_data_dir("assistdb", appauthor=False)) / "archive.sqlite3"


def default_database_url() -> str:
    return os.environ.get(DATABASE_URL_ENV) or f"sqlite:///{default_database_path()}"


def parse_database_url(url: str) -> URL:
    """Parse ``url``, defaulting PostgreSQL to the psycopg 3 driver; raise a one-line error if bad."""
    try:
        parsed = make_url(url)
    except (sa_exc.ArgumentError, ValueError):
        raise DatabaseError(
            f"invalid database URL {_safe_text(url)!r}",
            hint="use sqlite:///PATH or postgresql://USER@HOST:PORT/DB",
        ) from None
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise DatabaseError(
            f"unsupported database {parsed.get_backend_name()!r}",
            hint="assistdb supports SQLite and PostgreSQL URLs",
        )
    return parsed


def redact_url(url: URL | str) -> str:
    """The URL without its password, for messages and logs."""
    if isinstance(url, str):
        try:
            return make_url(url).render_as_string(hide_password=True)
        except (sa_exc.ArgumentError, ValueError):
            return _safe_text(url)
    return url.render_as_string(hide_password=True)


def _safe_text(url: str) -> str:
    return re.sub(r"://([^:/@]*):[^@]*@", r"://\1:***@", url)


class Database:
    """An engine configured for the archive, with read and write transactions."""

    def __init__(self, url: str | None = None) -> None:
        self.url = parse_database_url(url or default_database_url())
        self.dialect = self.url.get_backend_name()
        self.engine = self._create_engine()

    def __repr__(self) -> str:
        return f"Database({redact_url(self.url)!r})"

    @property
    def display_url(self) -> str:
        return redact_url(self.url)

    @property
    def sqlite_path(self) -> Path | None:
        if self.dialect != "sqlite" or self.url.database in (None, "", ":memory:"):
            return None
        database = str(self.url.database)
        if self.url.query.get("uri") == "true" and database.startswith("file:"):
            # A URI filename (sqlite:///file:PATH?mode=ro&uri=true): the file is the URI's path.
            database = unquote(urlsplit(database).path)
            if database in ("", ":memory:"):
                return None
        return Path(database)

    def _create_engine(self) -> Engine:
        if self.dialect == "sqlite":
            return self._create_sqlite_engine()
        return self._create_postgres_engine()

    def _create_postgres_engine(self) -> Engine:
        engine = create_engine(self.url, pool_pre_ping=True, pool_size=5, max_overflow=10)

        @event.listens_for(engine, "connect")
        def _configure(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            # psycopg prepares statements it sees often; a generic plan made while a table was
            # still small (a fresh archive, before autoanalyze) can stick to sequential scans
            # forever. Planning each execution for its parameters keeps index lookups.
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SET plan_cache_mode = force_custom_plan")
            dbapi_connection.commit()

        return engine

    def _create_sqlite_engine(self) -> Engine:
        path = self.sqlite_path
        if path is None:
            engine = create_engine(self.url, poolclass=StaticPool, connect_args={"check_same_thread": False})
        else:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseError(
                    f"cannot create the folder for {path}: {exc.strerror}",
                    hint="choose a database in a writable location",
                    situation="database_location",
                ) from None
            engine = create_engine(
                self.url,
                connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            )

        @event.listens_for(engine, "connect")
        def _configure(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            # Take transaction control from the sqlite3 module so that BEGIN IMMEDIATE works.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys = ON")
            # WAL is written into the file's header: only switch a file that is already an
            # archive (a new one switches right after its migration), never someone else's.
            if cursor.execute("SELECT 1 FROM sqlite_master WHERE name = 'versions'").fetchone():
                _use_wal(cursor)
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(connection: Connection) -> None:
            mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
            connection.exec_driver_sql(f"BEGIN {mode}")

        return engine

    def use_wal(self) -> None:
        """Switch a SQLite archive to WAL mode (it stays so), once it is known to be ours."""
        if self.dialect != "sqlite":
            return
        with translate_errors(self), self.engine.connect() as connection:
            cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            _use_wal(cursor)
            cursor.close()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for quick reads, each statement seeing what is committed when it starts.

        On PostgreSQL that is what READ COMMITTED gives inside a transaction too, so the statements
        run without one and save BEGIN and COMMIT round trips; SQLite reads in a transaction.
        Streaming a large result, or reading several statements from one moment: :meth:`snapshot`.
        """
        with translate_errors(self), self.engine.connect() as connection:
            if self.dialect == "postgresql":
                connection.execution_options(isolation_level="AUTOCOMMIT")
                yield connection
            else:
                with connection.begin():
                    yield connection

    @contextmanager
    def snapshot(self) -> Iterator[Connection]:
        """A read transaction that sees one moment of the archive, even while others write
        (REPEATABLE READ on PostgreSQL; any SQLite read transaction is a snapshot)."""
        with translate_errors(self), self.engine.connect() as connection:
            if self.dialect == "postgresql":
                connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                yield connection

    @contextmanager
    def write(self, *, durable: bool = True) -> Iterator[Connection]:
        """A write transaction; on SQLite it takes the write lock at once, so writers queue.

        ``durable=False`` lets PostgreSQL commit without waiting for the flush to disk: still
        atomic and at once visible, and kept if this process dies; only a crash of the database
        server itself can lose it. For records that can be rebuilt after such a loss (SQLite in
        WAL mode with ``synchronous = NORMAL`` already commits this way)."""
        with translate_errors(self), self.engine.connect() as connection:
            connection.execution_options(sqlite_begin="IMMEDIATE")
            with connection.begin():
                if not durable and self.dialect == "postgresql":
                    connection.exec_driver_sql("SET LOCAL synchronous_commit = off")
                yield connection

    def dispose(self) -> None:
        self.engine.dispose()


def upsert_insert(connection: Connection) -> Callable[..., Any]:
    """The dialect's ``insert``, which has the ON CONFLICT clauses. Imported on first use: a
    command that only reads the archive then loads neither dialect's DML module (the PostgreSQL
    dialect's modules alone cost a SQLite archive read about 40 ms of start-up)."""
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


def _use_wal(cursor: Any) -> None:
    try:
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
    except Exception:  # a read-only file cannot switch journal mode
        pass


_DISK_FULL = ("disk is full", "no space left", "could not extend file", "disk full")
_READ_ONLY = ("readonly database", "read-only", "read only")
_IO_ERROR = ("disk i/o error",)  # SQLite, when a write fails for another reason than ENOSPC
_LOCKED = ("database is locked",)
_CANNOT_OPEN = ("unable to open database file",)
_DAMAGED = ("database disk image is malformed", "file is not a database", "malformed database schema")
_CONNECT = (
    "connection refused",
    "could not connect",
    "connection failed",
    "name or service not known",
    "does not exist",
    "password authentication failed",
    "no password supplied",
)


@contextmanager
def translate_errors(database: Database) -> Iterator[None]:
    """Turn driver errors that a user can act on into one-line :class:`DatabaseError`s."""
    try:
        yield
    except sa_exc.DBAPIError as exc:
        interrupt = _interrupt_behind(exc)
        if interrupt is not None:
            raise interrupt from None
        text = str(exc.orig if exc.orig is not None else exc).lower()
        where = database.display_url
        if any(marker in text for marker in _DAMAGED):
            raise DatabaseError(
                f"the database {where} is damaged or is not a SQLite database",
                hint="restore it from a backup or an export, or use another database",
                situation="database_damaged",
            ) from exc
        if any(marker in text for marker in _DISK_FULL):
            raise DatabaseError(
                f"the disk holding {where} is full; nothing was written",
                hint="free some space and run the command again",
            ) from exc
        if any(marker in text for marker in _IO_ERROR):
            raise DatabaseError(
                f"the disk refused a write to {where}; nothing was written",
                hint="check free space, file size limits (ulimit -f) and the disk, then run it again",
            ) from exc
        if any(marker in text for marker in _READ_ONLY):
            raise DatabaseError(
                f"the database {where} is read-only",
                hint="make the file and its folder writable, or use another database",
                situation="database_read_only",
            ) from exc
        if any(marker in text for marker in _LOCKED):
            raise DatabaseError(
                f"the database {where} stayed locked by another process",
                hint="wait for the other assistdb process to finish and retry",
            ) from exc
        if any(marker in text for marker in _CANNOT_OPEN):
            raise DatabaseError(
                f"cannot open the database {where}",
                hint="check that the path exists and is writable, or use another database",
                situation="database_unopenable",
            ) from exc
        if isinstance(exc, sa_exc.OperationalError) and any(marker in text for marker in _CONNECT):
            raise DatabaseError(
                f"cannot connect to the database {where}",
                hint="check that the server is running and the URL is right",
            ) from exc
        raise


def _interrupt_behind(exc: BaseException) -> KeyboardInterrupt | None:
    """The Ctrl-C that a driver error was raised while cleaning up after, if any.

    Ctrl-C can land inside the driver (psycopg mid-statement, or SQLAlchemy's pre-ping); the
    clean-up that follows then fails on the half-used connection and hides the interrupt. The
    user pressed Ctrl-C, so that is what must reach them (the pool has dropped the connection).
    """
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, KeyboardInterrupt):
            return current
        stack += [current.__context__, current.__cause__, getattr(current, "orig", None)]
    return None
