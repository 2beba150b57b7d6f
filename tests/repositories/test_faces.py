"""The blocking and the asyncio face, through one suite: every test runs against ``AssistDB``
and ``AsyncAssistDB`` (on SQLite and PostgreSQL), so the two can never drift apart."""

from __future__ import annotations

import asyncio
import inspect
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
from openai.types.beta.threads import Message, Run

from assistdb import (
    ApiError,
    ApiNotFoundError,
    ArchivedVersion,
    AssistDB,
    AsyncAssistDB,
    Interrupted,
    NotFoundError,
    RunEndedError,
    ToolRegistry,
    message_text,
)
from assistdb.repositories import api
from assistdb.server import LocalServer
from tests.repositories.conftest import Either

weather = ToolRegistry()


@weather.add
def get_weather(city: str) -> dict[str, str]:
    """Today's weather in a city."""
    return {"city": city, "sky": "sunny"}


def test_same_second_messages_read_back_in_conversation_order(
    it: Either, assistdb_server: LocalServer
) -> None:
    raw = assistdb_server.client()
    thread = raw.beta.threads.create(
        messages=[{"role": "user", "content": t} for t in ("one", "two", "three")]
    )
    assert len({m.created_at for m in raw.beta.threads.messages.list(thread.id)}) == 1  # one second

    newest_first = it.items(it.db.messages.list(thread.id, order="desc"))

    assert [message_text(m) for m in newest_first] == ["three", "two", "one"]
    assert [message_text(m) for m in it(it.db.messages.find(thread.id))] == ["one", "two", "three"]


def test_list_and_find_agree_on_order(it: Either) -> None:
    thread = it(it.db.threads.create())
    for text in ("a", "b", "c"):
        it(it.db.messages.create(thread.id, content=text))

    listed = [message_text(m) for m in it.items(it.db.messages.list(thread.id))]
    found = [message_text(m) for m in it(it.db.messages.find(thread.id))]

    assert listed == found == ["a", "b", "c"]


def test_a_run_with_tools_then_the_archive(it: Either) -> None:
    assistant = it(it.db.assistants.create(model="gpt-4o", tools=weather.definitions()))
    thread = it(
        it.db.threads.create(messages=[{"role": "user", "content": '/tool get_weather {"city": "Paris"}'}])
    )

    run = it(it.db.runs.create_and_wait(thread.id, assistant_id=assistant.id, tools=weather))

    assert it.db.runs.raise_for_status(run) is run
    history = it(it.db.runs.history(run.id))
    assert all(isinstance(v, ArchivedVersion) and isinstance(v.object, Run) for v in history)
    assert [v.version for v in history] == list(range(1, len(history) + 1))
    assert history[-1].object.status == "completed" and not history[-1].tombstone
    assert [s.type for s in it(it.db.steps.find(run.id))] == ["tool_calls", "message_creation"]
    assert it(it.db.runs.archived(run.id)) == run
    assert [r.id for r in it(it.db.runs.find(thread.id))] == [run.id]
    assert [a.id for a in it(it.db.assistants.find())] == [assistant.id]
    reply = [m for m in it(it.db.messages.find(thread.id, run_id=run.id)) if m.role == "assistant"]
    assert "sunny" in message_text(reply[0])


def test_the_thread_handle_holds_a_conversation(it: Either) -> None:
    assistant = it(it.db.assistants.create(model="gpt-4o", tools=weather.definitions()))
    thread = it(it.db.new_thread(metadata={"customer": "42"}))

    sent = it(thread.send('/tool get_weather {"city": "Oslo"}'))
    run = it(thread.run(assistant.id, tools=weather))

    assert isinstance(sent, Message) and sent.thread_id == thread.id
    assert run.status == "completed"
    assert "Oslo" in it(thread.reply(run))
    assert [m.role for m in it(thread.messages())] == ["user", "assistant"]
    assert it.db.thread(thread.id).id == thread.id
    assert [t.id for t in it(it.db.threads.find(metadata={"customer": "42"}))] == [thread.id]


def test_a_missing_object_is_an_api_error_and_a_not_found_error(it: Either) -> None:
    with pytest.raises(ApiNotFoundError) as raised:
        it(it.db.threads.retrieve("thread_doesnotexist"))
    assert isinstance(raised.value, ApiError) and isinstance(raised.value, NotFoundError)
    assert raised.value.status_code == 404


def test_deleting_keeps_history_with_a_tombstone(it: Either) -> None:
    thread = it(it.db.threads.create())
    message = it(it.db.messages.create(thread.id, content="bye"))

    it(it.db.messages.delete(message.id))

    history = it(it.db.messages.history(message.id))
    assert [v.tombstone for v in history] == [False, True]
    assert it(it.db.messages.archived(message.id)) is None
    assert it(it.db.messages.archived(message.id, include_deleted=True)) == message


def test_both_faces_have_the_same_repositories_methods_and_parameters() -> None:
    blocking, asyncio_face = AssistDB("sqlite://"), AsyncAssistDB("sqlite://")
    try:
        for name in ("assistants", "threads", "messages", "runs", "steps", "files", "vector_stores"):
            sync_repo, async_repo = getattr(blocking, name), getattr(asyncio_face, name)
            methods = {m for m in dir(type(sync_repo)) if not m.startswith("_")}
            assert methods == {m for m in dir(type(async_repo)) if not m.startswith("_")}, name
            for method in methods:
                sync_method, async_method = getattr(sync_repo, method), getattr(async_repo, method)
                assert inspect.signature(sync_method) == inspect.signature(async_method), (name, method)
                assert not inspect.iscoroutinefunction(sync_method)
                paged = method == "list" or (name, method) == ("vector_stores", "files")
                expected_async = not paged and method != "raise_for_status"
                assert inspect.iscoroutinefunction(async_method) == expected_async, (name, method)
        public = {n for n in dir(AssistDB) if not n.startswith("_")}
        assert public == {n for n in dir(AsyncAssistDB) if not n.startswith("_")}
        assert not hasattr(asyncio_face, "record") and not hasattr(asyncio_face, "archive_results")
    finally:
        blocking.close()
        asyncio.run(asyncio_face.close())


def test_raise_for_status_says_how_a_run_ended(it: Either) -> None:
    body = {**_run_body(), "status": "failed", "last_error": {"code": "server_error", "message": "boom"}}
    failed = Run.model_validate(body)
    with pytest.raises(RunEndedError, match="run run_x ended failed: server_error: boom") as raised:
        it.db.runs.raise_for_status(failed)
    assert raised.value.run is failed


def _run_body() -> dict[str, Any]:
    return {
        "id": "run_x",
        "object": "thread.run",
        "assistant_id": "asst_x",
        "thread_id": "thread_x",
        "created_at": 0,
        "instructions": "",
        "model": "gpt-4o",
        "parallel_tool_calls": True,
        "status": "completed",
        "tools": [],
    }


def test_interrupted_is_a_keyboard_interrupt_that_except_exception_does_not_swallow() -> None:
    assert issubclass(Interrupted, KeyboardInterrupt) and not issubclass(Interrupted, Exception)
    with pytest.raises(Interrupted):
        try:
            raise Interrupted("interrupted", hint="run it again")
        except Exception:  # what an app writes around a call
            pytest.fail("except Exception caught Ctrl-C")
    assert str(Interrupted("interrupted", hint="run it again")) == "interrupted (run it again)"


def test_the_sdks_argument_checks_still_fire(assistdb_server: LocalServer) -> None:
    client = assistdb_server.client()
    with pytest.raises(TypeError, match="assistant_id"):
        api.call(client.beta.threads.runs.create, "thread_abc")  # type: ignore[call-overload]


def test_only_the_assistants_deprecation_is_silenced() -> None:
    def deprecated_elsewhere() -> None:
        warnings.warn("deprecated", DeprecationWarning, stacklevel=1)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        api.quiet_deprecations()
        deprecated_elsewhere()
    assert [str(w.message) for w in caught] == ["deprecated"]


def test_run_parameters_reach_the_api_through_both_ways_of_running(it: Either) -> None:
    assistant = it(it.db.assistants.create(model="gpt-4o", instructions="Be brief."))
    thread = it(it.db.new_thread())
    it(thread.send("hello"))
    by_handle = it(thread.run(assistant.id, instructions="Be very brief.", metadata={"via": "handle"}))
    it(thread.send("again"))
    by_runs = it(
        it.db.runs.create_and_wait(
            thread.id,
            assistant_id=assistant.id,
            model="gpt-4o-mini",
            temperature=0.25,
            metadata={"via": "runs"},
        )
    )
    assert (by_handle.instructions, by_handle.metadata) == ("Be very brief.", {"via": "handle"})
    assert (by_runs.model, by_runs.temperature, by_runs.metadata) == ("gpt-4o-mini", 0.25, {"via": "runs"})


def test_run_parameters_are_the_sdks_but_those_create_and_wait_owns() -> None:
    from openai.types.beta.threads.run_create_params import RunCreateParamsBase

    from assistdb import RunParameters

    owned = {"assistant_id", "tools", "stream"}
    assert set(RunParameters.__annotations__) == set(RunCreateParamsBase.__annotations__) - owned


@pytest.mark.slow
def test_mypy_catches_a_wrong_run_parameter_on_both_faces(tmp_path: Path) -> None:
    app = tmp_path / "app.py"
    app.write_text(
        "from assistdb import AssistDB, AsyncAssistDB\n"
        "def ok(db: AssistDB) -> None:\n"
        "    db.runs.create_and_wait('thread_x', assistant_id='asst_x', instructions='hi', top_p=0.5)\n"
        "def misspelt(db: AssistDB) -> None:\n"
        "    db.runs.create_and_wait('thread_x', assistant_id='asst_x', instrucions='hi')\n"
        "async def wrong_type(adb: AsyncAssistDB) -> None:\n"
        "    await adb.thread('thread_x').run('asst_x', max_prompt_tokens='many')\n",
        encoding="utf-8",
    )
    mypy = shutil.which("mypy", path=str(Path(sys.executable).parent))
    assert mypy, "mypy is not installed (pip install -e '.[test]')"
    checked = subprocess.run(
        [mypy, "--strict", "--no-incremental", "--follow-imports=silent", str(app)],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
    )
    errors = [line for line in checked.stdout.splitlines() if ": error:" in line]
    assert [line.split(":")[1] for line in errors] == ["5", "7"], checked.stdout
    assert 'keyword argument "instrucions"' in errors[0] and '"max_prompt_tokens"' in errors[1]
