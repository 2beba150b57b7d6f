"""Files and vector stores on ``assistdb serve``: upload and download throughput with the server's
peak memory, and vector store search latency, on SQLite and (with ``--postgres``) PostgreSQL.

A file (200 MB) is uploaded with the SDK's ``files.create`` and downloaded back through
``files.content``; the server's peak resident memory (``VmHWM``) before and after shows that a
file streams through it rather than sitting in memory. Search latency is measured over a vector
store of 10,000 chunks (100 files, static chunking of 100 tokens). ``--embeddings`` measures
hybrid ranking instead (no file transfer): for each of ``--dimensions`` (256 and 1,536), a
server embeds the chunks and queries with the scripted upstream's ``/embeddings`` answering
vectors of that size, so indexing includes the embedding requests and each search one request
plus the similarity pass over every stored vector. ``--server-path`` runs the server from
another checkout (prepended to its ``PYTHONPATH``) with this script and double, which is how an
old and a new implementation are compared in one run.

    python -m benchmarks.bench_files                                      # full sizes, SQLite
    python -m benchmarks.bench_files --postgres postgresql://postgres@127.0.0.1:5432/test
    python -m benchmarks.bench_files --quick                              # tiny sizes, for CI
    python -m benchmarks.bench_files --quick --embeddings                 # hybrid ranking
    python -m benchmarks.bench_files --embeddings --searches 50 --server-path /tmp/old-checkout
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import openai

from benchmarks.common import print_table, temporary_postgres_database

API_KEY = "sk-bench-files"
LISTENING = re.compile(r"listening on (http://[\d.]+:\d+/v1)")


@dataclass(frozen=True)
class Sizes:
    file_mb: int
    files: int
    chunks_per_file: int
    searches: int


FULL = Sizes(file_mb=200, files=100, chunks_per_file=100, searches=200)
QUICK = Sizes(file_mb=2, files=5, chunks_per_file=10, searches=10)


@contextmanager
def server(
    database_url: str, embeddings_url: str | None = None, server_path: str | None = None
) -> Iterator[tuple[str, int]]:
    """``assistdb serve`` on a free port with its own database (embedding with the upstream at
    ``embeddings_url`` if given, imported from ``server_path`` first if given: it is also its working
    directory, which ``-m`` puts first on the path); yields its URL and PID."""
    environment = {**os.environ, "ASSISTDB_SERVER_API_KEY": API_KEY}
    if server_path is not None:
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, [server_path, os.environ.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "assistdb", "serve", "--port", "0", "--database-url", database_url]
    if embeddings_url is not None:
        command += ["--upstream-url", embeddings_url, "--embedding-model", "bench-embed"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=environment, cwd=server_path)
    try:
        assert process.stdout is not None
        found = LISTENING.search(process.stdout.readline())
        if found is None:
            raise SystemExit("the server did not start")
        yield found.group(1), process.pid
    finally:
        process.terminate()
        process.wait(30)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def big_file(folder: Path, megabytes: int) -> Path:
    """A file of pseudo-random bytes (incompressible, different on every run)."""
    path = folder / "big.bin"
    seed = os.urandom(16)
    with path.open("wb") as sink:
        for n in range(megabytes):
            block = hashlib.sha256(seed + n.to_bytes(8, "big")).digest()
            sink.write(block * (1024 * 1024 // len(block)))
    return path


def words(rng: random.Random, count: int) -> list[str]:
    vocabulary = [f"w{n:04d}" for n in range(5000)]
    return [rng.choice(vocabulary) for _ in range(count)]


def transfer(client: openai.OpenAI, pid: int, label: str, sizes: Sizes, folder: Path) -> list[list[str]]:
    """Upload and download one big file; throughput and the server's peak memory."""
    before = peak_rss_mb(pid)
    path = big_file(folder, sizes.file_mb)
    started = time.perf_counter()
    with path.open("rb") as source:
        uploaded = client.files.create(file=(path.name, source), purpose="assistants")
    upload_s = time.perf_counter() - started
    after_upload = peak_rss_mb(pid)
    copy = folder / "copy.bin"
    started = time.perf_counter()
    with client.files.with_streaming_response.content(uploaded.id) as response, copy.open("wb") as sink:
        for piece in response.iter_bytes(1024 * 1024):
            sink.write(piece)
    download_s = time.perf_counter() - started
    after_download = peak_rss_mb(pid)
    if copy.stat().st_size != path.stat().st_size:
        raise SystemExit("the download differs from the upload")
    path.unlink()
    copy.unlink()
    mb = sizes.file_mb
    return [
        [label, f"upload {mb} MB", f"{mb / upload_s:.0f} MB/s", f"{before:.0f} → {after_upload:.0f} MB"],
        [label, f"download {mb} MB", f"{mb / download_s:.0f} MB/s", f"→ {after_download:.0f} MB"],
    ]


def index_and_search(
    client: openai.OpenAI, pid: int, label: str, sizes: Sizes, searches: int, kind: str
) -> list[list[str]]:
    """Index a store of random words, then time searches of three random words in it."""
    rng = random.Random(7)
    file_ids = []
    for n in range(sizes.files):
        text = " ".join(words(rng, 100 * sizes.chunks_per_file))
        file_ids.append(client.files.create(file=(f"doc{n}.txt", text.encode()), purpose="assistants").id)
    strategy = {"type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 0}}
    started = time.perf_counter()
    store = client.vector_stores.create(name="bench", file_ids=file_ids, chunking_strategy=strategy)  # type: ignore[arg-type]
    index_s = time.perf_counter() - started
    chunks = sizes.files * sizes.chunks_per_file
    latencies = []
    for _ in range(searches):
        query = " ".join(words(rng, 3))
        started = time.perf_counter()
        client.vector_stores.search(store.id, query=query, max_num_results=10)
        latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    p95 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))]
    return [
        [label, f"index {chunks:,} chunks{kind}", f"{index_s:.1f} s", f"→ {peak_rss_mb(pid):.0f} MB"],
        [
            label,
            f"search over {chunks:,} chunks{kind}",
            f"median {statistics.median(latencies):.1f} ms, p95 {p95:.1f} ms",
            f"→ {peak_rss_mb(pid):.0f} MB",
        ],
    ]


def measure(
    label: str, database_url: str, sizes: Sizes, searches: int, folder: Path, server_path: str | None
) -> list[list[str]]:
    """Lexical search with the file transfer figures."""
    with (
        server(database_url, server_path=server_path) as (base_url, pid),
        openai.OpenAI(base_url=base_url, api_key=API_KEY) as client,
    ):
        return transfer(client, pid, label, sizes, folder) + index_and_search(
            client, pid, label, sizes, searches, ""
        )


def measure_hybrid(
    label: str, database_url: str, sizes: Sizes, searches: int, dimensions: int, server_path: str | None
) -> list[list[str]]:
    """Hybrid search with vectors of ``dimensions`` from the scripted upstream."""
    from assistdb.server.backends.scripted_upstream import ScriptedUpstream

    with (
        ScriptedUpstream(embedding_dimensions=dimensions) as upstream,
        server(database_url, upstream.base_url, server_path) as (base_url, pid),
        openai.OpenAI(base_url=base_url, api_key=API_KEY, timeout=1800) as client,
    ):
        return index_and_search(client, pid, label, sizes, searches, f", hybrid, {dimensions:,} dims")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for CI")
    parser.add_argument("--postgres", help="admin URL of a PostgreSQL server where databases may be created")
    parser.add_argument(
        "--embeddings", action="store_true", help="hybrid ranking with the scripted upstream's embeddings"
    )
    parser.add_argument(
        "--dimensions",
        default="256,1536",
        help="with --embeddings: vector sizes to measure (default 256,1536)",
    )
    parser.add_argument("--searches", type=int, help="searches timed per store (default 200; --quick 10)")
    parser.add_argument("--server-path", help="run the server from this checkout (prepended to PYTHONPATH)")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    searches = args.searches or sizes.searches
    rows: list[list[str]] = []
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        numbers = itertools.count()

        def new_database(label: str) -> str:
            if label == "SQLite":
                return f"sqlite:///{folder / f'server{next(numbers)}.sqlite3'}"
            return stack.enter_context(temporary_postgres_database(args.postgres))

        for label in ["SQLite", "PostgreSQL"] if args.postgres else ["SQLite"]:
            if args.embeddings:
                for dimensions in (int(size) for size in args.dimensions.split(",")):
                    database_url = new_database(label)
                    rows += measure_hybrid(label, database_url, sizes, searches, dimensions, args.server_path)
                    print(" | ".join(rows[-1]), file=sys.stderr, flush=True)
            else:
                rows += measure(label, new_database(label), sizes, searches, folder, args.server_path)
                print("\n".join(" | ".join(row) for row in rows), file=sys.stderr, flush=True)
    print_table(
        "Files and vector stores on assistdb serve", ["database", "what", "speed", "server peak RSS"], rows
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
