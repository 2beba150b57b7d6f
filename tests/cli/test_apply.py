"""``assistdb assistants apply``: assistants as code, planned field by field, applied minimally."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistdb import AssistDB
from tests.cli.conftest import Cli, assert_one_line_error

SPEC = """\
assistants:
  - name: support
    model: gpt-4o
    instructions_file: support.md
    description: Answers customers
    metadata: {team: care, tier: 1}
    temperature: 0.2
    tools:
      - code_interpreter
      - type: function
        function:
          name: lookup_order
          description: Find an order by its number.
          parameters:
            type: object
            properties: {number: {type: string}}
            required: [number]
  - name: triage
    model: gpt-4o-mini
    instructions: Route each request.
    response_format: {type: json_object}
"""


def write_spec(folder: Path, text: str = SPEC, name: str = "assistants.yaml") -> Path:
    (folder / "support.md").write_text("Be helpful.\n", encoding="utf-8")
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def writes(cli: Cli) -> int:
    routes = cli.server.stats()["by_route"]
    return sum(count for route, count in routes.items() if route.startswith("POST /v1/assistants"))


def test_apply_creates_then_converges(run_cli: Cli, tmp_path: Path) -> None:
    path = write_spec(tmp_path)
    first = run_cli.json("assistants", "apply", str(path))
    assert [(item["action"], item["name"]) for item in first] == [("create", "support"), ("create", "triage")]
    support = first[0]["assistant"]
    assert support["instructions"] == "Be helpful.\n"
    assert support["metadata"] == {"team": "care", "tier": "1"}
    assert support["tools"][1]["function"]["name"] == "lookup_order"
    assert first[1]["assistant"]["response_format"] == {"type": "json_object"}
    listed = {a["name"]: a for a in run_cli.json("assistants", "list")}
    assert set(listed) == {"support", "triage"}

    run_cli.server.reset_stats()
    again = run_cli.json("assistants", "apply", str(path))
    assert [item["action"] for item in again] == ["unchanged", "unchanged"]
    assert [item["changes"] for item in again] == [[], []]
    assert writes(run_cli) == 0


def test_dry_run_prints_the_diff_and_changes_nothing(run_cli: Cli, tmp_path: Path) -> None:
    path = write_spec(tmp_path)
    run_cli.ok("assistants", "apply", str(path))
    path.write_text(SPEC.replace("Route each request.", "Route every request.").replace("tier: 1", "tier: 2"))
    before = run_cli.archive()
    run_cli.server.reset_stats()
    result = run_cli.ok("assistants", "apply", str(path), "--dry-run")
    assert writes(run_cli) == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("update asst_") and lines[0].endswith("'support'")
    assert lines[1] == '  ~ metadata: {"team": "care", "tier": "1"} -> {"team": "care", "tier": "2"}'
    assert lines[2].startswith("update asst_") and lines[2].endswith("'triage'")
    assert lines[3] == '  ~ instructions: "Route each request." -> "Route every request."'
    assert "dry run" in result.stderr
    assert run_cli.archive().versions <= before.versions + 2  # listing may archive, never changes remotely

    applied = run_cli.json("assistants", "apply", str(path))
    assert [item["action"] for item in applied] == ["update", "update"]
    assert applied[1]["changes"] == [
        {"field": "instructions", "from": "Route each request.", "to": "Route every request."}
    ]
    assert applied[1]["assistant"]["instructions"] == "Route every request."
    assert [item["action"] for item in run_cli.json("assistants", "apply", str(path))] == ["unchanged"] * 2


def test_an_id_pins_the_spec_and_json_files_work(run_cli: Cli, tmp_path: Path) -> None:
    created = run_cli.json("assistants", "create", "--name", "old-name", "--model", "gpt-4o")
    spec = [{"id": created["id"], "name": "new-name", "model": "gpt-4o"}]
    path = tmp_path / "one.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    applied = run_cli.json("assistants", "apply", str(path))
    assert applied[0]["action"] == "update"
    assert applied[0]["id"] == created["id"]
    assert applied[0]["changes"] == [{"field": "name", "from": "old-name", "to": "new-name"}]


def test_two_remote_assistants_with_the_spec_name_are_ambiguous(run_cli: Cli, tmp_path: Path) -> None:
    for _ in range(2):
        run_cli.ok("assistants", "create", "--name", "twin", "--model", "gpt-4o")
    path = write_spec(tmp_path, "name: twin\nmodel: gpt-4o\ninstructions: hi\n")
    run_cli.server.reset_stats()
    assert_one_line_error(
        run_cli("assistants", "apply", str(path)), 2, "2 assistants are named 'twin'", "id:"
    )
    assert writes(run_cli) == 0


BAD_SPECS = {
    "malformed YAML": ("name: [unclosed\nmodel: gpt-4o\n", "not valid YAML or JSON at line"),
    "malformed JSON": ('[{"name": "a", "model": }]', "not valid JSON at line 1, column 25"),
    "unknown field": ("name: a\nmodel: gpt-4o\ntemprature: 1\n", "unknown field(s): temprature"),
    "duplicate names": ("- {name: a, model: m}\n- {name: a, model: m}\n", "two assistants with the name 'a'"),
    "missing model": ("name: a\n", "model must be a non-empty string"),
    "bad temperature": ("name: a\nmodel: m\ntemperature: 5\n", "temperature must be a number from 0 to 2"),
    "invalid JSON Schema": (
        "name: a\nmodel: m\ntools:\n  - type: function\n    function:\n      name: f\n"
        "      parameters: {type: object, properties: {n: {type: integr}}}\n",
        "not valid JSON Schema at properties/n/type",
    ),
    "bad function name": (
        "name: a\nmodel: m\ntools: [{type: function, function: {name: 'bad name'}}]\n",
        "'bad name' is not a valid tool name",
    ),
    "not a tool": ("name: a\nmodel: m\ntools: [42]\n", "42 is not a tool"),
    "empty file": ("", "describes no assistants"),
    "missing instructions file": ("name: a\nmodel: m\ninstructions_file: nope.md\n", "nope.md"),
}


@pytest.mark.parametrize("case", sorted(BAD_SPECS))
def test_bad_files_are_one_line_errors_that_change_nothing(
    sqlite_cli: Cli, tmp_path: Path, case: str
) -> None:
    text, fragment = BAD_SPECS[case]
    path = write_spec(
        tmp_path, text, "assistants.json" if "JSON" in case and "Schema" not in case else "a.yaml"
    )
    before = sqlite_cli.archive()
    assert_one_line_error(sqlite_cli("assistants", "apply", str(path)), 2, fragment)
    assert sqlite_cli.archive() == before
    assert sqlite_cli.server.stats()["total"] == 0


def test_a_missing_file_is_a_usage_error(sqlite_cli: Cli, tmp_path: Path) -> None:
    assert_one_line_error(sqlite_cli("assistants", "apply", str(tmp_path / "none.yaml")), 2, "does not exist")


FILES_SPEC = """\
- name: librarian
  model: gpt-4o
  files: [docs/zoo.txt, docs/rust.txt]
"""


def write_docs(folder: Path) -> None:
    """The two files FILES_SPEC names."""
    (folder / "docs").mkdir()
    (folder / "docs" / "zoo.txt").write_text("Penguins cannot fly.\n")
    (folder / "docs" / "rust.txt").write_text("Rust is a language.\n")


def uploads(cli: Cli) -> int:
    return int(cli.server.stats()["by_route"].get("POST /v1/files", 0))


def test_apply_uploads_files_once_and_attaches_them(run_cli: Cli, tmp_path: Path) -> None:
    write_docs(tmp_path)
    path = write_spec(tmp_path, FILES_SPEC)
    run_cli.server.reset_stats()

    (created,) = run_cli.json("assistants", "apply", str(path))

    assistant = created["assistant"]
    assert {"type": "file_search"} in [{"type": tool["type"]} for tool in assistant["tools"]]
    (store_id,) = assistant["tool_resources"]["file_search"]["vector_store_ids"]
    shown = run_cli.json("vector-stores", "show", store_id)
    assert shown["vector_store"]["file_counts"]["completed"] == 2
    assert uploads(run_cli) == 2

    run_cli.server.reset_stats()
    (again,) = run_cli.json("assistants", "apply", str(path))
    assert (again["action"], uploads(run_cli), writes(run_cli)) == ("unchanged", 0, 0)

    (tmp_path / "docs" / "rust.txt").write_text("Rust is a systems language.\n")
    (changed,) = run_cli.json("assistants", "apply", str(path))
    assert changed["action"] == "update"
    assert [change["field"] for change in changed["changes"]] == ["tool_resources"]
    assert uploads(run_cli) == 1  # only the edited file; zoo.txt is found by its hash
    (new_store,) = changed["assistant"]["tool_resources"]["file_search"]["vector_store_ids"]
    assert new_store != store_id
    # the store apply made for the old set, used by nothing else now, is gone from the API
    assert_one_line_error(run_cli("vector-stores", "show", store_id), 3, "No vector store found")
    assert run_cli.json("vector-stores", "show", new_store)["vector_store"]["metadata"] == {
        "assistdb_files_for": "librarian"
    }


def test_apply_keeps_a_replaced_store_a_thread_uses(run_cli: Cli, tmp_path: Path) -> None:
    write_docs(tmp_path)
    path = write_spec(tmp_path, FILES_SPEC)
    (created,) = run_cli.json("assistants", "apply", str(path))
    (store_id,) = created["assistant"]["tool_resources"]["file_search"]["vector_store_ids"]
    with AssistDB(run_cli.database_url, client=run_cli.sdk) as db:
        db.threads.create(tool_resources={"file_search": {"vector_store_ids": [store_id]}})

    (tmp_path / "docs" / "rust.txt").write_text("Rust is a systems language.\n")
    (changed,) = run_cli.json("assistants", "apply", str(path))

    assert changed["assistant"]["tool_resources"]["file_search"]["vector_store_ids"] != [store_id]
    assert run_cli.json("vector-stores", "show", store_id)["vector_store"]["id"] == store_id


def test_create_with_file_search_reuses_uploaded_content(run_cli: Cli, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("Otters hold hands while they sleep.\n")
    (uploaded,) = run_cli.json("files", "upload", str(notes))
    run_cli.server.reset_stats()

    created = run_cli.json(
        "assistants", "create", "--name", "otters", "--model", "gpt-4o", "--file-search", str(notes)
    )

    assert uploads(run_cli) == 0
    (store_id,) = created["tool_resources"]["file_search"]["vector_store_ids"]
    assert [f["id"] for f in run_cli.json("vector-stores", "show", store_id)["files"]] == [uploaded["id"]]
    assert [tool["type"] for tool in created["tools"]] == ["file_search"]


def test_files_in_a_spec_are_checked_before_any_request(run_cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("")
    path = write_spec(tmp_path, "- name: x\n  model: gpt-4o\n  files: [empty.txt]\n")
    assert_one_line_error(run_cli("assistants", "apply", str(path)), 2, "empty")
    path = write_spec(tmp_path, "- name: x\n  model: gpt-4o\n  files: [missing.txt]\n")
    assert_one_line_error(run_cli("assistants", "apply", str(path)), 2, "not a file")


LOOKUP = {
    "type": "function",
    "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}},
}


def test_files_add_their_tools_to_the_assistants_own(run_cli: Cli, tmp_path: Path) -> None:
    write_docs(tmp_path)
    own = run_cli.sdk.beta.assistants.create(
        name="librarian", model="gpt-4o", tools=[{"type": "code_interpreter"}, LOOKUP]
    )
    path = write_spec(tmp_path, FILES_SPEC)

    (updated,) = run_cli.json("assistants", "apply", str(path))

    assert updated["action"] == "update" and updated["assistant"]["id"] == own.id
    kinds = [tool["type"] for tool in updated["assistant"]["tools"]]
    assert kinds == ["code_interpreter", "function", "file_search"]
    (again,) = run_cli.json("assistants", "apply", str(path))
    assert again["action"] == "unchanged"

    # declared tools are managed as declared, with file_search added
    declared = write_spec(tmp_path, FILES_SPEC + "  tools: [code_interpreter]\n")
    (managed,) = run_cli.json("assistants", "apply", str(declared))
    assert [tool["type"] for tool in managed["assistant"]["tools"]] == ["code_interpreter", "file_search"]


def test_a_store_apply_did_not_make_is_left_alone(run_cli: Cli, tmp_path: Path) -> None:
    write_docs(tmp_path)
    mine = run_cli.sdk.vector_stores.create(name="kept by hand")
    run_cli.sdk.beta.assistants.create(
        name="librarian",
        model="gpt-4o",
        tools=[{"type": "file_search"}],
        tool_resources={"file_search": {"vector_store_ids": [mine.id]}},
    )
    (updated,) = run_cli.json("assistants", "apply", str(write_spec(tmp_path, FILES_SPEC)))
    assert updated["assistant"]["tool_resources"]["file_search"]["vector_store_ids"] != [mine.id]
    assert run_cli.sdk.vector_stores.retrieve(mine.id).name == "kept by hand"


CODE_SPEC = """\
- name: analyst
  model: gpt-4o
  files: [docs/zoo.txt]
  code_interpreter_files: [data/sales.csv, data/costs.csv]
"""


def test_code_interpreter_files_are_uploaded_once_and_listed(run_cli: Cli, tmp_path: Path) -> None:
    write_docs(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "sales.csv").write_text("month,sales\njan,10\n")
    (tmp_path / "data" / "costs.csv").write_text("month,costs\njan,4\n")
    path = write_spec(tmp_path, CODE_SPEC)
    run_cli.server.reset_stats()

    (created,) = run_cli.json("assistants", "apply", str(path))

    assistant = created["assistant"]
    assert [tool["type"] for tool in assistant["tools"]] == ["file_search", "code_interpreter"]
    file_ids = assistant["tool_resources"]["code_interpreter"]["file_ids"]
    contents = [run_cli.sdk.files.content(file_id).read() for file_id in file_ids]
    assert contents == [b"month,sales\njan,10\n", b"month,costs\njan,4\n"]
    assert {run_cli.sdk.files.retrieve(file_id).purpose for file_id in file_ids} == {"assistants"}
    (store_id,) = assistant["tool_resources"]["file_search"]["vector_store_ids"]
    assert uploads(run_cli) == 3

    run_cli.server.reset_stats()
    (again,) = run_cli.json("assistants", "apply", str(path))
    assert (again["action"], uploads(run_cli), writes(run_cli)) == ("unchanged", 0, 0)

    (tmp_path / "data" / "costs.csv").write_text("month,costs\njan,5\n")
    (changed,) = run_cli.json("assistants", "apply", str(path))
    assert [change["field"] for change in changed["changes"]] == ["tool_resources"]
    assert uploads(run_cli) == 1  # only the edited file
    resources = changed["assistant"]["tool_resources"]
    assert resources["code_interpreter"]["file_ids"][0] == file_ids[0]
    assert resources["code_interpreter"]["file_ids"][1] != file_ids[1]
    assert resources["file_search"]["vector_store_ids"] == [store_id]  # the search files did not change
    assert run_cli.sdk.vector_stores.retrieve(store_id).file_counts.completed == 1
