"""What does the run runtime add to a model's time to first token?

Compared, round by round against the same upstream: the plain ``openai`` SDK streaming a chat
completion, and a streamed run through ``assistdb serve`` (the SDK's ``runs.create(stream=True)``
against a server whose runs are answered by that upstream) for the same question.

Method
------
* The upstream is the scripted Chat Completions double, in this process; the server is an
  ``assistdb serve`` subprocess on a SQLite file of its own, with ``--upstream-url`` pointing at
  the double.
* Time to first token: from just before the call to the first non-empty text (a content chunk
  for the SDK, a ``thread.message.delta`` event for the run). Round: until the stream ends.
  Each run gets a fresh thread, made before the clock starts.
* One warm client each, retries off; the two methods alternate round by round so that drift on
  the machine hits both; ``--warmup`` rounds are not measured.

Usage: ``python -m benchmarks.bench_runtime_ttft [--quick] [--rounds N]``.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import openai

from assistdb.server.backends.scripted_upstream import ScriptedUpstream
from benchmarks.common import print_table

INSTRUCTIONS = "You are a helpful assistant."
QUESTION = "What is the capital of France?"
LISTENING = re.compile(r"listening on (http://\S+/v1)")

Timing = tuple[float, float]  # (time to first token, whole round), seconds


def sdk_round(client: openai.OpenAI) -> Timing:
    started = time.perf_counter()
    first = None
    stream = client.chat.completions.create(
        model="tiny",
        messages=[{"role": "system", "content": INSTRUCTIONS}, {"role": "user", "content": QUESTION}],
        stream=True,
        stream_options={"include_usage": True},
    )
    for chunk in stream:
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.perf_counter()
    ended = time.perf_counter()
    return (first or ended) - started, ended - started


def runtime_round(client: openai.OpenAI, assistant_id: str) -> Timing:
    thread = client.beta.threads.create(messages=[{"role": "user", "content": QUESTION}])
    started = time.perf_counter()
    first = None
    stream = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant_id, stream=True)
    for event in stream:
        if first is None and event.event == "thread.message.delta":
            first = time.perf_counter()
    ended = time.perf_counter()
    return (first or ended) - started, ended - started


def measure(upstream_url: str, rounds: int, warmup: int) -> dict[str, list[Timing]]:
    with tempfile.TemporaryDirectory(prefix="assistdb-bench-") as folder:
        database = f"sqlite:///{Path(folder) / 'server.sqlite3'}"
        command = [sys.executable, "-m", "assistdb", "serve", "--port", "0", "--database-url", database]
        command += ["--upstream-url", upstream_url, "--model-map", "*=tiny", "--poll-after-ms", "10"]
        server = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=dict(os.environ)
        )
        try:
            assert server.stdout is not None
            found = LISTENING.search(server.stdout.readline())
            if found is None:
                raise SystemExit("the server did not start")
            direct = openai.OpenAI(base_url=upstream_url, api_key="bench", max_retries=0)
            through = openai.OpenAI(base_url=found.group(1), api_key="bench", max_retries=0)
            assistant = through.beta.assistants.create(model="gpt-4o", instructions=INSTRUCTIONS)
            methods: dict[str, Callable[[], Timing]] = {
                "SDK to the upstream": lambda: sdk_round(direct),
                "run through assistdb serve": lambda: runtime_round(through, assistant.id),
            }
            timings: dict[str, list[Timing]] = {name: [] for name in methods}
            for number in range(warmup + rounds):
                for name, run in methods.items():
                    timing = run()
                    if number >= warmup:
                        timings[name].append(timing)
            direct.close()
            through.close()
            return timings
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)


def report(timings: dict[str, list[Timing]]) -> None:
    baseline = statistics.median(first for first, _ in timings["SDK to the upstream"])
    rows = []
    for name, samples in timings.items():
        firsts = sorted(first for first, _ in samples)
        wholes = [whole for _, whole in samples]
        rows.append(
            [
                name,
                str(len(samples)),
                f"{statistics.median(firsts) * 1000:.2f}",
                f"{firsts[min(len(firsts) - 1, int(len(firsts) * 0.9))] * 1000:.2f}",
                f"{(statistics.median(firsts) - baseline) * 1000:+.2f}",
                f"{statistics.median(wholes) * 1000:.2f}",
            ]
        )
    print_table(
        "Time to first token of a streamed run through the runtime vs the SDK on the same upstream "
        "(scripted double, loopback)",
        ["method", "rounds", "first token median ms", "p90 ms", "vs SDK ms", "round median ms"],
        rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a few rounds, for CI")
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args()
    rounds, warmup = (5, 1) if args.quick else (args.rounds, args.warmup)
    with ScriptedUpstream() as upstream:
        timings = measure(upstream.base_url, rounds, warmup)
    report(timings)


if __name__ == "__main__":
    main()
