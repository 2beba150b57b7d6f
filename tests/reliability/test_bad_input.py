"""The bad-input catalogue: every way a user can get something wrong, through the CLI and the
library, answered by the documented exit code (CLI) or exception (library), with one line that
says what happened and what to do, no traceback, and no change to the archive.

Each case runs against one archive per backend that already holds an assistant, a thread, a run
with tool calls, its steps and messages; the archive's export must be byte-identical before and
after the case. Database-level failures (URLs, schema, read-only, full disk) are in
``test_bad_databases.py``, Ctrl-C in ``test_interrupts.py``.
"""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from openai import OpenAI

from assistdb import AssistDB, ToolRegistry, tool
from assistdb.apply import parse_specs
from assistdb.audit import build_transcript, export_archive, import_archive
from assistdb.errors import (
    ApiConnectionError,
    ApiNotFoundError,
    AssistDBError,
    AuthenticationError,
    DatabaseError,
    InvalidInputError,
    NotFoundError,
)
from assistdb.runner import load_tools
from assistdb.server import LocalServer
from assistdb.store import Store
from assistdb.sync import sync_thread, sync_threads
from tests.cli.conftest import assert_one_line_error
from tests.conftest import BACKENDS, create_postgres_database, drop_postgres_database, postgres_admin_url
from tests.reliability.archives import assert_sound, export_text
from tests.reliability.conftest import TOOLS_MODULE, invoke
from tests.reliability.sample_tools import registry

RIGHT_KEY = "sk-reliability-right-key-0001"
WRONG_KEY = "sk-reliability-wrong-key-0002"
MISSING = {
    "thread": "thread_missing0000000000000",
    "run": "run_missing0000000000000",
    "message": "msg_missing0",
}
FILES = {
    "broken_tools.py": 'raise RuntimeError("this module is broken")\n',
    "needs_missing_dependency.py": "import reliability_dependency_nobody_installed  # noqa\n",
    "bad_schema_tools.py": (
        "from assistdb import tool\n\n"
        "@tool(parameters={'type': 'object', 'properties': {'n': {'type': 'integr'}}})\n"
        "def count(n):\n    return n\n"
    ),
    "malformed.yaml": "name: [unclosed\nmodel: gpt-4o\n",
    "malformed.json": '[{"name": "a", "model": }]',
    "unknown_field.yaml": "name: a\nmodel: gpt-4o\ntemprature: 1\n",
    "bad_schema.yaml": (
        "name: a\nmodel: gpt-4o\ntools:\n  - type: function\n    function:\n      name: f\n"
        "      parameters: {type: object, properties: {n: {type: integr}}}\n"
    ),
    "duplicate_names.yaml": "- {name: twin, model: gpt-4o}\n- {name: twin, model: gpt-4o}\n",
    "not_an_export.jsonl": '{"hello": "world"}\n',
    # nine aliases of nine aliases, seven deep: 9**7 values from a few hundred bytes
    "alias_bomb.yaml": "".join(
        f"{name}: &{name} [{', '.join([f'*{prior}' if prior else '0'] * 9)}]\n"
        for name, prior in zip("abcdefg", ["", *"abcdef"], strict=True)
    )
    + "name: bomb\nmodel: gpt-4o\nmetadata: {k: v}\n",
    "alias_cycle.yaml": "name: loop\nmodel: gpt-4o\nmetadata: &m {k: *m}\n",
    "deep.json": "[" * 100_000 + "]" * 100_000,
    "deep.yaml": "[" * 100_000 + "]" * 100_000,
}


@dataclass(frozen=True)
class World:
    """The archive under test and what it holds, for the cases to refer to."""

    url: str
    server: LocalServer
    keyed_server: LocalServer
    folder: Path
    ids: dict[str, str]

    def fill(self, text: str) -> str:
        """``text`` with ``{thread}``, ``{run}``, ``{folder}``, ... replaced."""
        return text.format(folder=self.folder, **self.ids)


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[LocalServer, LocalServer]]:
    with (
        LocalServer(run_latency=0.05, poll_after_ms=50) as server,
        LocalServer(run_latency=0.05, poll_after_ms=50, api_key=RIGHT_KEY) as keyed,
    ):
        yield server, keyed


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest,
    servers: tuple[LocalServer, LocalServer],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[World]:
    folder = tmp_path_factory.mktemp(f"catalogue-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'archive.sqlite3'}"
    elif postgres_admin_url():
        url = create_postgres_database()
    else:
        pytest.skip("PostgreSQL tests need ASSISTDB_TEST_POSTGRES_URL")
    for name, text in FILES.items():
        (folder / name).write_text(text)
    server, keyed = servers
    with AssistDB(url, client=server.client()) as db:
        # `ghost` is offered to the model but missing from the registry that answers the calls.
        tools = [
            *registry.definitions(),
            {"type": "function", "function": {"name": "ghost", "parameters": {}}},
        ]
        assistant = db.assistants.create(model="gpt-4o", name="catalogue", tools=tools)
        thread = db.threads.create(messages=[{"role": "user", "content": '/tool lookup {"key": "k"}'}])
        run = db.runs.create_and_wait(thread.id, assistant_id=assistant.id, tools=registry)
        assert run.status == "completed"
        (step, *_) = db.steps.find(run.id)
        (message, *_) = db.messages.find(thread.id)
    ids = {
        "assistant": assistant.id,
        "thread": thread.id,
        "run": run.id,
        "step": step.id,
        "message": message.id,
    }
    sys.path.insert(0, str(folder))  # the tools modules above, found as `--tools NAME` finds them
    try:
        yield World(url, server, keyed, folder, {**ids, **{f"missing_{k}": v for k, v in MISSING.items()}})
    finally:
        sys.path.remove(str(folder))
        if url.startswith("postgresql"):
            drop_postgres_database(url)


@pytest.fixture
def unchanged(world: World) -> Iterator[None]:
    """The archive's export is byte-identical after the case."""
    before = export_text(world.url)
    yield
    assert export_text(world.url) == before


def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# The CLI ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cli:
    """``assistdb ARGS`` (``{name}`` fields filled from the world) must exit ``code`` saying ``says``."""

    args: tuple[str, ...]
    code: int
    says: str
    key: str | None = "server"  # the server's key; None: no key; WRONG_KEY against the keyed server
    base_url: str | None = None  # default: the server's
    database: str | None = None  # default: the world's archive
    stdin: bytes | None = None


METADATA_17 = tuple(arg for n in range(17) for arg in ("--metadata", f"k{n}=v"))
RUN_WITH = ("runs", "create", "{thread}", "--assistant", "{assistant}", "--wait", "--tools")
CLI_CASES: dict[str, Cli] = {
    # malformed and unknown IDs, each object type
    "malformed thread ID": Cli(("threads", "show", "thread bad!"), 2, "is not a valid thread ID"),
    "thread ID for an assistant": Cli(
        ("assistants", "show", "{thread}"), 2, "is a thread ID, not an assistant"
    ),
    "malformed message ID": Cli(("messages", "show", "msg/../etc"), 2, "is not a valid message ID"),
    "run ID for a message": Cli(("messages", "show", "{run}"), 2, "is a run ID, not a message ID"),
    "empty run ID": Cli(("runs", "show", ""), 2, "'' is not a valid run ID"),
    "step ID for a run": Cli(("runs", "steps", "{step}"), 2, "is a run step ID, not a run ID"),
    "unknown assistant": Cli(("assistants", "show", "asst_missing000"), 3, "No assistant found"),
    "unknown thread (remote)": Cli(("threads", "show", "{missing_thread}", "--remote"), 3, "No thread found"),
    "unknown thread (archive)": Cli(("threads", "show", "{missing_thread}"), 3, "the archive has no thread"),
    "unknown message (remote)": Cli(
        ("messages", "show", "{missing_message}", "--thread", "{thread}", "--remote"), 3, "No message found"
    ),
    "unknown message (archive)": Cli(
        ("messages", "show", "{missing_message}"), 3, "the archive has no message"
    ),
    "unknown run (remote)": Cli(
        ("runs", "show", "{missing_run}", "--thread", "{thread}", "--remote"), 3, "No run found"
    ),
    "unknown run (archive)": Cli(("runs", "show", "{missing_run}"), 3, "the archive has no run"),
    # missing threads and runs
    "sync a missing thread": Cli(("threads", "sync", "{missing_thread}"), 4, "does not exist"),
    "track a missing thread": Cli(("threads", "track", "{missing_thread}"), 3, "No thread found"),
    "message to a missing thread": Cli(("messages", "add", "{missing_thread}", "hi"), 3, "No thread found"),
    "run on a missing thread": Cli(
        ("runs", "create", "{missing_thread}", "--assistant", "{assistant}"), 3, "No thread found"
    ),
    "run of a missing assistant": Cli(
        ("runs", "create", "{thread}", "--assistant", "asst_missing0"), 3, "No assistant"
    ),
    "wait for a missing run": Cli(
        ("runs", "wait", "{missing_run}", "--thread", "{thread}"), 3, "No run found"
    ),
    "wait for a run of no known thread": Cli(
        ("runs", "wait", "{missing_run}"), 2, "does not know which thread"
    ),
    "cancel a missing run": Cli(
        ("runs", "cancel", "{missing_run}", "--thread", "{thread}"), 3, "No run found"
    ),
    "transcript of a missing thread": Cli(("threads", "transcript", "{missing_thread}"), 3, "no thread"),
    "verify a missing thread": Cli(("audit", "verify", "--thread", "{missing_thread}"), 3, "no thread"),
    "diff a missing thread": Cli(("audit", "diff", "{missing_thread}"), 3, "no thread"),
    "export a missing thread": Cli(("audit", "export", "--thread", "{missing_thread}"), 3, "no thread"),
    # metadata over the limits
    "17 metadata pairs": Cli(("threads", "create", *METADATA_17), 2, "17 pairs; at most 16"),
    "metadata key of 65 characters": Cli(
        ("threads", "create", "--metadata", "k" * 65 + "=v"), 2, "the limit is 64"
    ),
    "metadata value of 513 characters": Cli(
        ("messages", "add", "{thread}", "hi", "--metadata", "k=" + "v" * 513), 2, "the limit is 512"
    ),
    "metadata without =": Cli(("threads", "create", "--metadata", "novalue"), 2, "is not KEY=VALUE"),
    "assistant metadata over the limit": Cli(
        ("assistants", "create", "--name", "a", "--model", "gpt-4o", *METADATA_17), 2, "17 pairs"
    ),
    # assistants as code
    "malformed YAML": Cli(("assistants", "apply", "{folder}/malformed.yaml"), 2, "not valid YAML or JSON"),
    "malformed JSON": Cli(("assistants", "apply", "{folder}/malformed.json"), 2, "not valid JSON at line 1"),
    "unknown spec field": Cli(("assistants", "apply", "{folder}/unknown_field.yaml"), 2, "temprature"),
    "tool schema that is not JSON Schema": Cli(
        ("assistants", "apply", "{folder}/bad_schema.yaml"), 2, "not valid JSON Schema"
    ),
    "two specs with one name": Cli(("assistants", "apply", "{folder}/duplicate_names.yaml"), 2, "'twin'"),
    "missing spec file": Cli(("assistants", "apply", "{folder}/none.yaml"), 2, "does not exist"),
    # tools modules
    "tools module that raises on import": Cli(
        (*RUN_WITH, "broken_tools"), 2, "importing tools module 'broken_tools' failed: RuntimeError"
    ),
    "tools module missing a dependency": Cli(
        (*RUN_WITH, "needs_missing_dependency"), 2, "reliability_dependency_nobody_installed"
    ),
    "tools module with an invalid schema": Cli(
        ("assistants", "create", "--name", "a", "--model", "gpt-4o", "--tools", "bad_schema_tools"),
        2,
        "not valid JSON Schema",
    ),
    "tools module that does not exist": Cli((*RUN_WITH, "no_such_tools"), 2, "cannot find the tools module"),
    "tools attribute that is no tool": Cli((*RUN_WITH, f"{TOOLS_MODULE}:MARK_ENV"), 2, "not a ToolRegistry"),
    "tools spec that is no spec": Cli((*RUN_WITH, "not a spec!"), 2, "is not a tools spec"),
    # the API: unreachable, key refused or missing
    "unreachable server": Cli(("threads", "create"), 4, "cannot reach the API", base_url="unreachable"),
    "rejected API key": Cli(("assistants", "list"), 4, "rejected the key", key=WRONG_KEY),
    "no API key": Cli(("threads", "create"), 2, "no API key", key=None),
    # options and files
    "sync without threads or --all": Cli(("threads", "sync"), 2, "name the threads to sync, or pass --all"),
    "zero sync workers": Cli(("threads", "sync", "--all", "--workers", "0"), 2, "--workers"),
    "date that is no date": Cli(("threads", "list", "--since", "last tuesday"), 2, "is not a date"),
    "zero run timeout": Cli(
        ("runs", "create", "{thread}", "--assistant", "{assistant}", "--wait", "--timeout", "0"),
        2,
        "--timeout",
    ),
    "import into a non-empty archive": Cli(
        ("audit", "import", "{folder}/not_an_export.jsonl"), 2, "not empty"
    ),
    "import of a missing file": Cli(("audit", "import", "{folder}/none.jsonl"), 2, "does not exist"),
    "invalid database URL": Cli(("threads", "list"), 7, "invalid database URL", database="not a url"),
    # numbers past any sensible bound
    "thread --limit past any count": Cli(
        ("threads", "list", "--limit", "99999999999999999999"), 2, "not in the range 1<=x<=1000000000"
    ),
    "run --limit past any count": Cli(("runs", "list", "--limit", "99999999999999999999"), 2, "--limit"),
    "message --limit past any count": Cli(
        ("messages", "list", "{thread}", "--limit", "99999999999999999999"), 2, "--limit"
    ),
    "assistant --limit past any count": Cli(("assistants", "list", "--limit", "1" + "0" * 30), 2, "--limit"),
    "request timeout that is not a number": Cli(
        ("--timeout", "nan", "threads", "show", "{thread}", "--remote"), 2, "'nan' is not a finite number"
    ),
    "request timeout of forever": Cli(("--timeout", "1e300", "threads", "create"), 2, "0<x<=604800"),
    "infinite run timeout": Cli(
        ("runs", "create", "{thread}", "--assistant", "{assistant}", "--wait", "--timeout", "inf"),
        2,
        "--timeout",
    ),
    "temperature that is not a number": Cli(
        ("assistants", "create", "--name", "a", "--model", "gpt-4o", "--temperature", "nan"), 2, "finite"
    ),
    # bytes that are not UTF-8, keys that cannot be sent
    "message on stdin that is not UTF-8": Cli(
        ("messages", "add", "{thread}", "-"), 2, "standard input is not UTF-8 text", stdin=b"ok \xff"
    ),
    "endless message on stdin": Cli(
        ("messages", "add", "{thread}", "-"), 2, "larger than 1 MiB", stdin=b"x" * (1024 * 1024 + 1)
    ),
    "metadata argument that is not UTF-8": Cli(
        ("threads", "create", "--metadata", "k=\udcff"), 2, "argument 8 'k=\\xff' is not UTF-8 text"
    ),
    "message argument that is not UTF-8": Cli(("messages", "add", "{thread}", "\udcff"), 2, "not UTF-8"),
    "non-ASCII API key": Cli(("threads", "create"), 2, "cannot carry", key="sk-caf\u00e9"),
    "API key with a newline": Cli(("assistants", "list"), 2, "cannot carry", key="sk-local\n"),
    # files without end
    "instructions from /dev/zero": Cli(
        ("assistants", "create", "--name", "a", "--model", "gpt-4o", "--instructions", "@/dev/zero"),
        2,
        "/dev/zero is larger than 1 MiB",
    ),
    "assistants file from /dev/zero": Cli(("assistants", "apply", "/dev/zero"), 2, "larger than 8 MiB"),
    "YAML alias bomb": Cli(
        ("assistants", "apply", "{folder}/alias_bomb.yaml"), 2, "more than 100,000 values"
    ),
    "YAML alias that contains itself": Cli(
        ("assistants", "apply", "{folder}/alias_cycle.yaml"), 2, "contains itself"
    ),
    "JSON nested too deeply": Cli(("assistants", "apply", "{folder}/deep.json"), 2, "nested too deeply"),
    "YAML nested too deeply": Cli(("assistants", "apply", "{folder}/deep.yaml"), 2, "nested too deeply"),
    "unsupported database": Cli(
        ("threads", "list"), 7, "unsupported database 'mysql'", database="mysql://x/y"
    ),
}
#: Cases run on SQLite only: the SDK's back-off makes this one take ~15 s, and it fails before the
#: archive is touched, whatever its backend.
ONE_BACKEND = {"unreachable server"}


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("name", list(CLI_CASES))
def test_cli(world: World, name: str) -> None:
    case = CLI_CASES[name]
    if name in ONE_BACKEND and not world.url.startswith("sqlite"):
        pytest.skip("run on SQLite only: it takes ~15 s of SDK back-off and fails before any database write")
    server = world.keyed_server if case.key == WRONG_KEY else world.server
    base_url = f"http://127.0.0.1:{closed_port()}/v1" if case.base_url == "unreachable" else server.base_url
    args = ("--db", case.database or world.url, "--base-url", base_url, *(world.fill(a) for a in case.args))
    key = server.api_key if case.key == "server" else case.key
    assert_one_line_error(invoke(*args, key=key, input=case.stdin), case.code, world.fill(case.says))


# The library --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Library:
    """``call(db, world)`` must raise ``error`` whose message contains ``says``."""

    call: Callable[[AssistDB, World], Any]
    error: type[AssistDBError]
    says: str


def _reference(*_: Any) -> str:
    return "unused"


def _through_an_unreachable_server(db: AssistDB, world: World) -> Any:
    client = OpenAI(base_url=f"http://127.0.0.1:{closed_port()}/v1", api_key="sk-x", max_retries=0)
    with AssistDB(world.url, client=client) as unreachable:
        return unreachable.threads.create()


def _with_a_rejected_key(db: AssistDB, world: World) -> Any:
    with AssistDB(world.url, client=world.keyed_server.client(api_key=WRONG_KEY)) as rejected:
        return next(rejected.assistants.list())


def _import_something_else(db: AssistDB, _: World) -> Any:
    empty = Store("sqlite://")
    try:
        return import_archive(empty, StringIO('{"kind": "header", "format": "something else"}\n'))
    finally:
        empty.close()


def _import_into_the_archive(db: AssistDB, world: World) -> Any:
    return import_archive(db.store, StringIO(export_text(world.url)))


def _export_missing(db: AssistDB, world: World) -> Any:
    return export_archive(db.store, StringIO(), thread_id=world.ids["missing_thread"])


BAD_SCHEMA = {"type": "object", "properties": {"n": {"type": "integr"}}}
LIBRARY_CASES: dict[str, Library] = {
    "message ID for a thread": Library(
        lambda db, w: db.threads.retrieve(w.ids["message"]), InvalidInputError, "is a message ID"
    ),
    "empty assistant ID": Library(
        lambda db, w: db.assistants.retrieve(""), InvalidInputError, "not a valid assistant ID"
    ),
    "malformed message ID": Library(
        lambda db, w: db.messages.retrieve("msg bad", thread_id=w.ids["thread"]),
        InvalidInputError,
        "not a valid message",
    ),
    "run ID for a step": Library(
        lambda db, w: db.steps.retrieve(w.ids["run"], run_id=w.ids["run"]),
        InvalidInputError,
        "not a run step ID",
    ),
    "non-string ID": Library(
        lambda db, w: db.runs.retrieve(42, thread_id=w.ids["thread"]),  # type: ignore[arg-type]
        InvalidInputError,
        "42 is not a valid run ID",
    ),
    "unknown run": Library(
        lambda db, w: db.runs.retrieve(w.ids["missing_run"], thread_id=w.ids["thread"]),
        ApiNotFoundError,
        "No run found",
    ),
    "unknown step": Library(
        lambda db, w: db.steps.retrieve("step_missing0", run_id=w.ids["run"]),
        ApiNotFoundError,
        "No run step found",
    ),
    "wait for a run of no known thread": Library(
        lambda db, w: db.runs.wait(w.ids["missing_run"]), InvalidInputError, "does not know which thread"
    ),
    "sync a thread that never existed": Library(
        lambda db, w: sync_thread(db, w.ids["missing_thread"]), NotFoundError, "does not exist"
    ),
    "zero sync workers": Library(lambda db, w: sync_threads(db, workers=0), InvalidInputError, "at least 1"),
    "non-string metadata value": Library(
        lambda db, w: db.threads.create(metadata={"n": 1}), InvalidInputError, "must map a string to a string"
    ),
    "metadata that is no mapping": Library(
        lambda db, w: db.threads.update(w.ids["thread"], metadata=["a"]),
        InvalidInputError,
        "must be a mapping",
    ),
    "metadata key too long": Library(
        lambda db, w: db.messages.create(w.ids["thread"], content="hi", metadata={"k" * 65: "v"}),
        InvalidInputError,
        "the limit is 64",
    ),
    "tool schema that is not JSON Schema": Library(
        lambda db, w: tool(parameters=BAD_SCHEMA)(_reference), InvalidInputError, "not valid JSON Schema"
    ),
    "registry given an invalid schema": Library(
        lambda db, w: ToolRegistry().add(_reference, name="f", parameters=BAD_SCHEMA),
        InvalidInputError,
        "JSON Schema",
    ),
    "tools module that cannot be imported": Library(
        lambda db, w: load_tools("broken_tools"), InvalidInputError, "this module is broken"
    ),
    "malformed assistants YAML": Library(
        lambda db, w: parse_specs("name: [unclosed", source="inline", base_dir=w.folder),
        InvalidInputError,
        "YAML",
    ),
    "import of something else": Library(_import_something_else, InvalidInputError, "not an assistdb export"),
    "import into a non-empty archive": Library(_import_into_the_archive, InvalidInputError, "not empty"),
    "export of a missing thread": Library(_export_missing, NotFoundError, "no thread"),
    "transcript of a missing thread": Library(
        lambda db, w: build_transcript(db.store, w.ids["missing_thread"]), NotFoundError, "no thread"
    ),
    "unreachable server": Library(_through_an_unreachable_server, ApiConnectionError, "cannot reach the API"),
    "rejected API key": Library(_with_a_rejected_key, AuthenticationError, "rejected the key"),
    "invalid database URL": Library(lambda db, w: AssistDB("postgresql://:@:x/"), DatabaseError, "database"),
}


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize("name", list(LIBRARY_CASES))
def test_library(world: World, name: str) -> None:
    case = LIBRARY_CASES[name]
    with (
        AssistDB(world.url, client=world.server.client(max_retries=0)) as db,
        pytest.raises(case.error) as raised,
    ):
        case.call(db, world)
    error = raised.value
    assert type(error) is case.error, (type(error), error)
    text = str(error)
    assert case.says in text, text
    assert error.hint, f"no hint in {text!r}"
    assert "\n" not in text and "Traceback" not in text


# Tool calls gone wrong -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Misbehaving:
    """A tool call that goes wrong: the model gets an error output of ``kind`` saying ``says``,
    the ledger records it, and the run still completes (exit 0)."""

    message: str  # the user message that scripts the call
    kind: str
    says: str


TOOL_CASES: dict[str, Misbehaving] = {
    "a tool that raises": Misbehaving('/tool explode {"reason": "kaboom"}', "tool_error", "exploded: kaboom"),
    "arguments that are not JSON": Misbehaving(
        "/tool lookup {not json", "invalid_arguments", "not valid JSON"
    ),
    "arguments that do not fit": Misbehaving('/tool lookup {"wrong": 1}', "invalid_arguments", "key"),
    "a function the registry lacks": Misbehaving("/tool ghost {}", "unknown_function", "'ghost'"),
    "arguments with a raw NUL": Misbehaving(
        '/tool lookup {"key": "a\x00"}', "invalid_arguments", "Invalid control character"
    ),
    "a result that is NaN": Misbehaving(
        '/tool malformed {"kind": "nan"}',
        "invalid_output",
        "malformed returned NaN, which is not a JSON number",
    ),
    "Infinity inside a result": Misbehaving(
        '/tool malformed {"kind": "infinity inside"}', "invalid_output", "Infinity, which is not a JSON"
    ),
    "a result with a lone surrogate": Misbehaving(
        '/tool malformed {"kind": "lone surrogate"}', "invalid_output", "a lone surrogate (not Unicode text)"
    ),
    "a lone surrogate inside a result": Misbehaving(
        '/tool malformed {"kind": "lone surrogate inside"}', "invalid_output", "a lone surrogate that"
    ),
    "a result with a NUL": Misbehaving(
        '/tool malformed {"kind": "nul"}', "invalid_output", "text with a NUL character at position 6"
    ),
}


@pytest.mark.parametrize("name", list(TOOL_CASES))
def test_a_tool_call_gone_wrong_is_answered_with_an_error_and_the_run_completes(
    world: World, name: str
) -> None:
    case = TOOL_CASES[name]
    key = world.server.api_key
    options = ("--db", world.url, "--base-url", world.server.base_url)
    created = invoke(*options, "threads", "create", "--message", case.message, "--json", key=key)
    thread_id = json.loads(created.stdout)["id"]
    command = ("runs", "create", thread_id, "--assistant", world.ids["assistant"], "--tools", TOOLS_MODULE)
    result = invoke(*options, *command, "--wait", "--json", key=key)

    assert (result.exit_code, result.stderr) == (0, ""), result.output
    run = json.loads(result.stdout)
    assert run["status"] == "completed"
    with AssistDB(world.url) as db:
        (call,) = db.store.tools.calls_of_run(run["id"]).values()
        (reply,) = db.messages.find(thread_id, run_id=run["id"])
    assert call.is_error and call.submitted and call.output is not None
    output = json.loads(call.output)
    assert output["type"] == case.kind and case.says in output["error"], output
    assert reply.content[0].text.value == f"{call.function_name} -> {call.output}"  # type: ignore[union-attr]
    assert_sound(world.url)
