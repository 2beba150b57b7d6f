"""What does the Chat Completions backend add to a model's time to first token?

Compared, round by round against the same upstream: the plain ``openai`` SDK streaming a chat
completion, and ``ChatCompletionsBackend.answer`` (translation of a run's round, the SDK call,
chunks mapped to events) for the same conversation.

Method
------
* The upstream is the scripted Chat Completions double in this process (default; a short reply
  in word-sized chunks), or any endpoint given with ``--upstream URL`` (for example llama.cpp's
  server from ``../shared/upstream``).
* Time to first token: from just before the call to the first non-empty text (a content chunk
  for the SDK, a ``TextDelta`` for the backend). Round: until the stream ends (the SDK) or
  ``Finished`` (the backend).
* Both use one warm client each, with retries off; the two methods alternate round by round so
  that drift on the machine hits both; ``--warmup`` rounds are not measured.
* This is the backend's share only; the runtime's own share (a run through ``assistdb serve``)
  is measured with the runtime.

Usage: ``python -m benchmarks.bench_upstream_ttft [--quick] [--rounds N] [--upstream URL --model NAME]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

import openai

from assistdb.server.backends.base import Finished, ModelRequest, TextDelta
from assistdb.server.backends.chat_completions import ChatCompletionsBackend, UpstreamSettings
from assistdb.server.backends.scripted_upstream import ScriptedUpstream
from benchmarks.common import print_table

INSTRUCTIONS = "You are a helpful assistant."
QUESTION = "What is the capital of France?"

Timing = tuple[float, float]  # (time to first token, whole round), seconds


def model_request(model: str) -> ModelRequest:
    content = [{"type": "text", "text": {"value": QUESTION, "annotations": []}}]
    message = {"id": "msg_1", "object": "thread.message", "role": "user", "content": content}
    return ModelRequest(run={"id": "run_bench"}, model=model, instructions=INSTRUCTIONS, messages=(message,))


async def sdk_round(client: openai.AsyncOpenAI, model: str) -> Timing:
    started = time.perf_counter()
    first = None
    stream = await client.chat.completions.create(
        model=model,
        messages=[{"role": "system", "content": INSTRUCTIONS}, {"role": "user", "content": QUESTION}],
        stream=True,
        stream_options={"include_usage": True},
    )
    async for chunk in stream:
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.perf_counter()
    ended = time.perf_counter()
    return (first or ended) - started, ended - started


async def backend_round(backend: ChatCompletionsBackend, request: ModelRequest) -> Timing:
    started = time.perf_counter()
    first = None
    async for event in backend.answer(request):
        if first is None and isinstance(event, TextDelta) and event.text:
            first = time.perf_counter()
        if isinstance(event, Finished):
            break
    ended = time.perf_counter()
    return (first or ended) - started, ended - started


async def measure(base_url: str, model: str, rounds: int, warmup: int) -> dict[str, list[Timing]]:
    client = openai.AsyncOpenAI(base_url=base_url, api_key="bench", max_retries=0)
    backend = ChatCompletionsBackend(UpstreamSettings(base_url=base_url, api_key="bench", max_retries=0))
    request = model_request(model)
    methods: dict[str, Callable[[], Awaitable[Timing]]] = {
        "SDK": lambda: sdk_round(client, model),
        "backend": lambda: backend_round(backend, request),
    }
    timings: dict[str, list[Timing]] = {name: [] for name in methods}
    try:
        for number in range(warmup + rounds):
            for name, run in methods.items():
                timing = await run()
                if number >= warmup:
                    timings[name].append(timing)
    finally:
        await client.close()
        await backend.aclose()
    return timings


def milliseconds(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.2f}"


def p90(values: list[float]) -> str:
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))] * 1000:.2f}"


def report(timings: dict[str, list[Timing]], where: str) -> None:
    sdk_first = statistics.median(first for first, _ in timings["SDK"])
    rows = []
    for name, samples in timings.items():
        firsts = [first for first, _ in samples]
        wholes = [whole for _, whole in samples]
        rows.append(
            [
                name,
                str(len(samples)),
                milliseconds(firsts),
                p90(firsts),
                f"{(statistics.median(firsts) - sdk_first) * 1000:+.2f}",
                milliseconds(wholes),
            ]
        )
    print_table(
        f"Time to first token through the Chat Completions backend vs the SDK ({where})",
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
    parser.add_argument(
        "--upstream", help="base URL of a Chat Completions endpoint (default: the scripted double)"
    )
    parser.add_argument("--model", default="tiny", help="model name sent upstream (default: tiny)")
    args = parser.parse_args()
    rounds, warmup = (5, 1) if args.quick else (args.rounds, args.warmup)
    if args.upstream:
        report(asyncio.run(measure(args.upstream, args.model, rounds, warmup)), args.upstream)
        return
    with ScriptedUpstream() as upstream:
        timings = asyncio.run(measure(upstream.base_url, args.model, rounds, warmup))
    report(timings, "the scripted upstream, in-process, loopback")


if __name__ == "__main__":
    main()
