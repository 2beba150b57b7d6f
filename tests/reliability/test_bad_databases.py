"""The bad-input catalogue, continued: databases that cannot be used as they are. A newer schema,
a read-only database or file, a full disk, a database server that is not there: each is exit 7
(or :class:`DatabaseError` in the library) with one line saying what to do, and the archive is
left exactly as it was."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import Engine, event, text

from assistdb import AssistDB
from assistdb.errors import AssistDBError, DatabaseError, SchemaTooNewError
from assistdb.server import LocalServer
from assistdb.store import Database, Store
from tests import factories
from tests.cli.conftest import assert_one_line_error
from tests.conftest import BACKENDS
from tests.reliability.archives import export_text
from tests.reliability.conftest import invoke, run_module

LONG_MESSAGE = "x" * 60_000  # a write of many pages
#: One line of ``assert_one_line_error``: exit code and a fragment of the message.
Expected = tuple[int, str]


@contextmanager
def newer_schema(url: str, folder: Path) -> Iterator[str]:
    database = Database(url)
    try:
        with database.write() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    finally:
        database.dispose()
    yield url


@contextmanager
def read_only_database(url: str, folder: Path) -> Iterator[str]:
    """SQLite opened read-only through a URI filename; a PostgreSQL database whose transactions
    are all read-only. Both refuse writes even to root and superusers."""
    if url.startswith("sqlite"):
        yield f"sqlite:///file:{url.removeprefix('sqlite:///')}?mode=ro&uri=true"
        return
    database = Database(url)
    name = database.url.database
    try:
        with database.engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                text(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
            )
    finally:
        database.dispose()
    yield url


@contextmanager
def read_only_file(url: str, folder: Path) -> Iterator[str]:
    """chmod 444, which root ignores; as root, the immutable attribute instead (chattr +i), which
    even root cannot write through."""
    path = Path(url.removeprefix("sqlite:///"))
    if os.geteuid() != 0:
        path.chmod(0o444)
        try:
            yield url
        finally:
            path.chmod(0o644)
        return
    chattr = shutil.which("chattr")
    if (
        chattr is None
        or subprocess.run([chattr, "+i", str(path)], capture_output=True, check=False).returncode
    ):
        pytest.skip(
            "as root chmod does not stop writes, and chattr +i is refused here (see read-only database)"
        )
    try:
        yield url
    finally:
        subprocess.run([chattr, "-i", str(path)], check=True)


@contextmanager
def full_disk(url: str, folder: Path) -> Iterator[str]:
    """SQLite says "database or disk is full" once a file reaches ``max_page_count`` pages: cap
    every new connection to the file at the pages it has now."""
    store = Store(url)
    with store.database.read() as connection:
        pages = int(connection.exec_driver_sql("PRAGMA page_count").scalar_one())
    store.close()

    def cap(dbapi_connection: object, _record: object) -> None:
        cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
        cursor.execute(f"PRAGMA max_page_count = {pages}")
        cursor.close()

    event.listen(Engine, "connect", cap)
    try:
        yield url
    finally:
        event.remove(Engine, "connect", cap)


@contextmanager
def unreachable_server(url: str, folder: Path) -> Iterator[str]:
    yield "postgresql://postgres@127.0.0.1:1/archive"


@contextmanager
def missing_database(url: str, folder: Path) -> Iterator[str]:
    yield Database(url).url.set(database="assistdb_no_such_database").render_as_string(hide_password=False)


@contextmanager
def folder_is_a_file(url: str, folder: Path) -> Iterator[str]:
    (folder / "blocker").write_text("")
    yield f"sqlite:///{folder / 'blocker' / 'archive.sqlite3'}"


@dataclass(frozen=True)
class Broken:
    """A way a database cannot be used: how to break one (``breaks`` yields the URL to use), what a
    write (``threads create``) and a read (``threads list``; None: it works) answer, what the
    library raises on a write, and the one backend it applies to, if only one (and why)."""

    breaks: Callable[[str, Path], AbstractContextManager[str]]
    write: Expected
    read: Expected | None
    library: type[AssistDBError]
    only: tuple[str, str] | None = None

    def applies_to(self, backend: str) -> bool:
        return self.only is None or self.only[0] == backend


NO_FILE = ("sqlite", "only SQLite archives are files")
NO_SERVER = ("postgresql", "only PostgreSQL has a database server")
CASES: dict[str, Broken] = {
    "newer schema": Broken(
        newer_schema, (7, "written by a newer assistdb"), (7, "pip install -U assistdb"), SchemaTooNewError
    ),
    "read-only database": Broken(read_only_database, (7, "is read-only"), None, DatabaseError),
    "read-only file": Broken(read_only_file, (7, "is read-only"), None, DatabaseError, NO_FILE),
    "full disk": Broken(
        full_disk,
        (7, "is full; nothing was written"),
        None,
        DatabaseError,
        ("sqlite", "filling the PostgreSQL server's own disk is out of a test's reach"),
    ),
    "database server unreachable": Broken(
        unreachable_server, (7, "cannot connect"), (7, "server is running"), DatabaseError, NO_SERVER
    ),
    "database missing on the server": Broken(
        missing_database, (7, "cannot connect"), (7, "cannot connect"), DatabaseError, NO_SERVER
    ),
    "folder that is a file": Broken(
        folder_is_a_file, (7, "cannot create the folder"), (7, "writable location"), DatabaseError, NO_FILE
    ),
}


def populate(database_url: str) -> None:
    store = Store(database_url)
    try:
        store.record(
            [factories.thread("thread_kept"), factories.message("msg_kept", "thread_kept")],
            track=["thread_kept"],
        )
    finally:
        store.close()


@pytest.mark.parametrize(
    ("name", "database_url"),
    [(name, backend) for name, case in CASES.items() for backend in BACKENDS if case.applies_to(backend)],
    indirect=["database_url"],
)
def test_an_unusable_database_is_exit_7_and_left_as_it_was(
    name: str, database_url: str, assistdb_server: LocalServer, tmp_path: Path
) -> None:
    case = CASES[name]
    populate(database_url)
    with case.breaks(database_url, tmp_path) as url:
        before = export_text(database_url)

        def run(*args: str) -> Result:
            return invoke(
                "--db", url, "--base-url", assistdb_server.base_url, *args, key=assistdb_server.api_key
            )

        assert_one_line_error(run("threads", "create", "--message", LONG_MESSAGE), *case.write)
        read = run("threads", "list", "--json")
        if case.read is None:
            assert read.exit_code == 0 and "thread_kept" in read.stdout, read.output
        else:
            assert_one_line_error(read, *case.read)
        with pytest.raises(case.library) as raised, AssistDB(url, client=assistdb_server.client()) as db:
            db.threads.create(messages=[{"role": "user", "content": LONG_MESSAGE}])
        assert raised.value.hint and "\n" not in str(raised.value)
        assert export_text(database_url) == before


def test_a_file_size_limit_is_exit_7_and_nothing_is_written(
    assistdb_server: LocalServer, tmp_path: Path
) -> None:
    """A real process whose writes the kernel refuses (``ulimit -f``): SQLite reports a disk I/O
    error rather than a full disk, which must still be a clean exit 7."""
    url = f"sqlite:///{tmp_path / 'archive.sqlite3'}"
    populate(url)
    before = export_text(url)
    # Below what the message's write-ahead log needs, whatever the size of the archive file (its
    # schema grows with migrations); the WAL is written from offset 0, the archive only read.
    limit = 65_536

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = run_module(
        "--db", url, "--base-url", assistdb_server.base_url, "threads", "create", "--message", LONG_MESSAGE,
        key=assistdb_server.api_key,
        preexec_fn=limit_file_size,
    )  # fmt: skip
    assert result.returncode == 7, result.stderr
    lines = result.stderr.strip().splitlines()
    assert (
        len(lines) == 1 and lines[0].startswith("error: the disk refused a write") and lines[0].endswith(")")
    )
    assert export_text(url) == before
