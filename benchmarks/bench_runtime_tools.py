"""What does the runtime add to a run with tool calls, over the same chat loop written by hand?

A run whose model asks for a function call, gets its output, asks for another, gets that output
too and then answers: two rounds of tool calls and a final answer, three model requests. Compared,
round by round against the same upstream:

* by hand: the plain ``openai`` SDK's Chat Completions loop (ask, run the tools, append the
  assistant's ``tool_calls`` and the ``tool`` messages, ask again) until the model answers;
* through the runtime: the SDK's Assistants loop against ``assistdb serve`` whose runs are
  answered by that upstream: ``runs.create_and_poll``, then ``submit_tool_outputs_and_poll``
  while the run ``requires_action``, then the answer read back with ``messages.list``.

Method
------
* The upstream is the scripted Chat Completions double in this process, told by the user message
  which calls to make (``/tool NAME {json}``, ``/then``); the server is an ``assistdb serve``
  subprocess on a SQLite file of its own with ``--poll-after-ms`` (how long the SDK waits
  between two polls) set by ``--poll-ms`` (default 5).
* A round is timed from just before the first call to the answer's text in hand; each runtime
  round gets a fresh thread, made before the clock starts. The two methods alternate round by
  round, so drift on the machine hits both; ``--warmup`` rounds are not measured.

Usage: ``python -m benchmarks.bench_runtime_tools [--quick] [--rounds N] [--poll-ms MS]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai

from assistdb.server.backends.scripted_upstream import ScriptedUpstream
from benchmarks.common import print_table, served

INSTRUCTIONS = "You are a helpful assistant with tools."
QUESTION = 'What is the weather where I am?\n/tool locate {}\n/then\n/tool weather {"city": "Paris"}'
TOOLS: list[Any] = [
    {"type": "function", "function": {"name": "locate", "parameters": {"type": "object", "properties": {}}}},
    {
        "type": "function",
        "function": {
            "name": "weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    },
]
OUTPUTS = {"locate": "Paris", "weather": "sunny, 21 C"}


def by_hand(client: openai.OpenAI) -> float:
    started = time.perf_counter()
    messages: list[Any] = [
        {"role": "system", "content": INSTRUCTIONS},
        {"role": "user", "content": QUESTION},
    ]
    while True:
        completion = client.chat.completions.create(model="tiny", messages=messages, tools=TOOLS)
        message = completion.choices[0].message
        if not message.tool_calls:
            break
        messages.append(message.model_dump(exclude_none=True))
        for call in message.tool_calls:
            name = call.function.name  # type: ignore[union-attr]
            messages.append({"role": "tool", "tool_call_id": call.id, "content": OUTPUTS[name]})
    if not message.content:
        raise RuntimeError("the hand-written loop got no answer")
    return time.perf_counter() - started


def through_runtime(client: openai.OpenAI, assistant_id: str, poll_ms: int) -> float:
    thread = client.beta.threads.create(messages=[{"role": "user", "content": QUESTION}])
    started = time.perf_counter()
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant_id, poll_interval_ms=poll_ms
    )
    while run.status == "requires_action" and run.required_action is not None:
        outputs: list[Any] = [
            {"tool_call_id": call.id, "output": OUTPUTS[call.function.name]}
            for call in run.required_action.submit_tool_outputs.tool_calls
        ]
        run = client.beta.threads.runs.submit_tool_outputs_and_poll(
            run_id=run.id, thread_id=thread.id, tool_outputs=outputs, poll_interval_ms=poll_ms
        )
    if run.status != "completed":
        raise RuntimeError(f"the run ended {run.status}: {run.last_error}")
    answer = client.beta.threads.messages.list(thread_id=thread.id, run_id=run.id, limit=1)
    if not answer.data or not answer.data[0].content:
        raise RuntimeError("the run gave no answer")
    return time.perf_counter() - started


def measure(upstream_url: str, rounds: int, warmup: int, poll_ms: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory(prefix="assistdb-bench-") as folder:
        database = f"sqlite:///{Path(folder) / 'server.sqlite3'}"
        options = ["--database-url", database, "--upstream-url", upstream_url, "--model-map", "*=tiny"]
        with served(*options, "--poll-after-ms", str(poll_ms)) as server:
            direct = openai.OpenAI(base_url=upstream_url, api_key="bench", max_retries=0)
            through = openai.OpenAI(base_url=server.url, api_key="bench", max_retries=0)
            assistant = through.beta.assistants.create(model="gpt-4o", instructions=INSTRUCTIONS, tools=TOOLS)
            methods: dict[str, Callable[[], float]] = {
                "chat loop by hand (SDK to the upstream)": lambda: by_hand(direct),
                "run through assistdb serve (create_and_poll)": lambda: through_runtime(
                    through, assistant.id, poll_ms
                ),
            }
            timings: dict[str, list[float]] = {name: [] for name in methods}
            for number in range(warmup + rounds):
                for name, run in methods.items():
                    took = run()
                    if number >= warmup:
                        timings[name].append(took)
            direct.close()
            through.close()
            return timings


def report(timings: dict[str, list[float]], poll_ms: int) -> None:
    baseline = statistics.median(next(iter(timings.values())))
    rows = []
    for name, samples in timings.items():
        ordered = sorted(samples)
        median = statistics.median(ordered)
        rows.append(
            [
                name,
                str(len(samples)),
                f"{median * 1000:.2f}",
                f"{ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))] * 1000:.2f}",
                f"{(median - baseline) * 1000:+.2f}",
                f"{median / baseline:.2f}",
            ]
        )
    print_table(
        "Two-round tool run through the runtime vs the same chat loop by hand "
        f"(scripted double, loopback, SDK polling every {poll_ms} ms)",
        ["method", "rounds", "median ms", "p90 ms", "vs hand ms", "ratio"],
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a few rounds, for CI")
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--poll-ms", type=int, default=5, help="the server's openai-poll-after-ms")
    args = parser.parse_args()
    rounds, warmup = (3, 1) if args.quick else (args.rounds, args.warmup)
    with ScriptedUpstream() as upstream:
        timings = measure(upstream.base_url, rounds, warmup, args.poll_ms)
    report(timings, args.poll_ms)


if __name__ == "__main__":
    main()
