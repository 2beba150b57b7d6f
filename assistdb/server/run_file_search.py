"""The ``file_search`` tool in runs: offered to the model as a function, executed by the server.

A run whose tools include ``file_search`` offers the model a function of that name taking a
``query``. When the model calls it (and only it) in a round, the driver does not ask the client:
it searches the vector stores of the run's assistant and thread, records a ``tool_calls`` step
whose calls are ``file_search`` calls (ranking options and results; the results' content only
when a step is read with ``include[]=step_details.tool_calls[*].file_search.results[*].content``),
hands the results to the model as the function's output, and starts the next round. Each result
has a number, counted over the whole run; the model cites it as ``【n†filename】``, and the server
turns each such marker in the final text into a ``file_citation`` annotation.
"""

from __future__ import annotations

import json
import re
from typing import Any

from assistdb.server import lifecycle
from assistdb.server.objects import Obj
from assistdb.server.request_models import RUN_STEP_INCLUDE
from assistdb.server.state import RunRow, Tx

FUNCTION_NAME = "file_search"
DEFAULT_MAX_RESULTS = 20
RANKER = "default_2024_08_21"
CITATION = re.compile(r"【(\d+)(?::\d+)?†[^】]*】")
_DESCRIPTION = (
    "Search the files attached to this assistant and thread. Returns numbered passages; cite a "
    "passage you use as 【n†filename】 with its number and file name."
)


def function_tool() -> Obj:
    """The function the model is offered for ``file_search`` (Chat Completions shape)."""
    return {
        "type": "function",
        "function": {
            "name": FUNCTION_NAME,
            "description": _DESCRIPTION,
            "parameters": {
                "type": "object",
                "properties": {"query": {"type": "string", "description": "What to look for."}},
                "required": ["query"],
            },
        },
    }


def _settings(run_obj: Obj) -> Obj | None:
    for tool in run_obj.get("tools") or []:
        if tool.get("type") == "file_search":
            return dict(tool.get("file_search") or {})
    return None


def handles(run_obj: Obj, calls: list[Obj]) -> bool:
    """Whether the server answers this round itself: every call is ``file_search``, which the run offers."""
    return bool(calls) and _settings(run_obj) is not None and all(c["name"] == FUNCTION_NAME for c in calls)


def query_of(arguments: str) -> str:
    """The query of a ``file_search`` call's arguments (a bare string is taken as the query)."""
    try:
        decoded: Any = json.loads(arguments)
    except ValueError:
        return arguments
    if isinstance(decoded, dict):
        return str(decoded.get("query", ""))
    return str(decoded)


def _store_ids(tx: Tx, run_obj: Obj) -> list[str]:
    ids: list[str] = []
    owners: list[Obj | None] = [tx.thread(run_obj["thread_id"])]
    try:
        owners.append(tx.assistant(run_obj["assistant_id"]))
    except Exception:  # the assistant was deleted since the run started
        owners.append(None)
    for owner in owners:
        if owner is None:
            continue
        for store_id in ((owner.get("tool_resources") or {}).get("file_search") or {}).get(
            "vector_store_ids", []
        ):
            if store_id not in ids:
                ids.append(store_id)
    return ids


def execute(tx: Tx, row: RunRow, now: float, calls: list[Obj], usage: Obj) -> None:
    """Search for each call, complete the round's step with the results, queue the next round."""
    from assistdb.server import vector_stores  # imports operations, which imports the driver

    settings = _settings(row.obj) or {}
    ranking = settings.get("ranking_options") or {}
    threshold = float(ranking.get("score_threshold") or 0.0)
    limit = int(settings.get("max_num_results") or DEFAULT_MAX_RESULTS)
    store_ids = vector_stores.usable(tx, _store_ids(tx, row.obj), now)
    sources: list[Obj] = row.driver.setdefault("sources", [])
    step_calls: list[Obj] = []
    outputs: dict[str, str] = {}
    for call in calls:
        found = vector_stores.search_stores(
            tx,
            store_ids,
            [query_of(call["arguments"])],
            max_num_results=limit,
            score_threshold=threshold,
            filters=None,
        )
        numbered = []
        for item in found:
            numbered.append(
                {
                    "n": len(sources),
                    "file_id": item["file_id"],
                    "filename": item["filename"],
                    "score": item["score"],
                    "text": item["content"][0]["text"],
                }
            )
            sources.append({"file_id": item["file_id"], "filename": item["filename"]})
        outputs[call["id"]] = json.dumps({"results": numbered}, ensure_ascii=False)
        step_calls.append(
            {
                "id": call["id"],
                "type": "file_search",
                "file_search": {
                    "ranking_options": {"ranker": RANKER, "score_threshold": threshold},
                    "results": [
                        {
                            "file_id": item["file_id"],
                            "file_name": item["filename"],
                            "score": item["score"],
                            "content": item["content"],
                        }
                        for item in found
                    ],
                },
            }
        )
    step = tx.step_by_id(row.driver.get("step_id") or "")
    if step is not None:
        step["step_details"] = {"type": "tool_calls", "tool_calls": step_calls}
        step.update(status="completed", completed_at=int(now), usage=usage)
        tx.save_step(step)
        lifecycle.emit(tx, row.id, "thread.run.step.completed", present_step(step, included=False), now)
    row.driver["rounds"].append(
        {
            "calls": [{"id": c["id"], "name": c["name"], "arguments": c["arguments"]} for c in calls],
            "outputs": outputs,
        }
    )
    row.driver["completion_used"] = int(row.driver.get("completion_used", 0)) + int(
        usage["completion_tokens"]
    )
    row.driver.update(step_id=None, message_id=None)
    tx.save_run(row)


def citations(text: str, driver: Obj) -> list[Obj]:
    """``file_citation`` annotations for the ``【n†…】`` markers of a reply that name a result."""
    sources: list[Obj] = driver.get("sources") or []
    annotations = []
    for match in CITATION.finditer(text):
        n = int(match.group(1))
        if n < len(sources):
            annotations.append(
                {
                    "type": "file_citation",
                    "text": match.group(0),
                    "start_index": match.start(),
                    "end_index": match.end(),
                    "file_citation": {"file_id": sources[n]["file_id"]},
                }
            )
    return annotations


def included(query: dict[str, list[str]]) -> bool:
    return any(RUN_STEP_INCLUDE in query.get(name, ()) for name in ("include", "include[]"))


def present_step(step: Obj, *, included: bool) -> Obj:
    """A step as answered: file search results lose their content unless it was asked for."""
    if included or step.get("type") != "tool_calls":
        return step
    calls = step["step_details"].get("tool_calls") or []
    if not any(call.get("type") == "file_search" for call in calls):
        return step
    shown = json.loads(json.dumps(step))
    for call in shown["step_details"]["tool_calls"]:
        for result in (call.get("file_search") or {}).get("results") or []:
            result.pop("content", None)
    return dict(shown)


def tool_choice_for(choice: Any, rounds: list[Obj]) -> Any:
    """After a round the server answered, a choice that forces a tool call (``required`` or
    ``file_search``) becomes ``auto``: forcing it again would make the model search forever."""
    searched = bool(rounds) and all(call["name"] == FUNCTION_NAME for call in rounds[-1]["calls"])
    forced = choice == "required" or (isinstance(choice, dict) and choice.get("type") == "file_search")
    return "auto" if searched and forced else choice


def stream_delta(run_obj: Obj, name: str, tool_call: Obj, first: bool) -> Obj | None:
    """How a tool-call delta is streamed: a ``file_search`` call the server will answer shows as
    one ``file_search`` delta (as the real API streamed it), its arguments not at all."""
    if name != FUNCTION_NAME or _settings(run_obj) is None:
        return tool_call
    if not first:
        return None
    return {"index": tool_call["index"], "type": "file_search", "id": tool_call["id"], "file_search": {}}
