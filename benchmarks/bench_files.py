"""Files and vector stores on ``assistdb serve``: upload and download throughput with the server's
peak memory, and vector store search latency, on SQLite and (with ``--postgres``) PostgreSQL.

A file (200 MB) is uploaded with the SDK's ``files.create`` and downloaded back through
``files.content``; the server's peak resident memory (``VmHWM``) before and after shows that a
file streams through it rather than sitting in memory. Search latency is measured over a vector
store of 10,000 chunks (100 files, static chunking of 100 tokens). ``--embeddings`` measures
hybrid ranking instead: the server embeds chunks and queries with the scripted upstream's
``/embeddings`` (256 dimensions), so indexing includes the embedding requests and each search one
request plus the brute-force similarity pass.

    python -m benchmarks.bench_files                                      # full sizes, SQLite
    python -m benchmarks.bench_files --postgres postgresql://postgres@127.0.0.1:5432/test
    python -m benchmarks.bench_files --quick                              # tiny sizes, for CI
    python -m benchmarks.bench_files --quick --embeddings                 # hybrid ranking
"""

from __future__ import annotations

import argparse
import hashlib
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
def server(database_url: str, embeddings_url: str | None = None) -> Iterator[tuple[str, int]]:
    """``assistdb serve`` on a free port with its own database (embedding with the upstream at
    ``embeddings_url`` if given); yields its URL and PID."""
    environment = {**os.environ, "ASSISTDB_SERVER_API_KEY": API_KEY}
    command = [sys.executable, "-m", "assistdb", "serve", "--port", "0", "--database-url", database_url]
    if embeddings_url is not None:
        command += ["--upstream-url", embeddings_url, "--embedding-model", "bench-embed"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=environment)
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


def measure(
    label: str, database_url: str, sizes: Sizes, folder: Path, embeddings_url: str | None
) -> list[list[str]]:
    rows: list[list[str]] = []
    with (
        server(database_url, embeddings_url) as (base_url, pid),
        openai.OpenAI(base_url=base_url, api_key=API_KEY) as client,
    ):
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
        rows.append(
            [label, f"upload {mb} MB", f"{mb / upload_s:.0f} MB/s", f"{before:.0f} → {after_upload:.0f} MB"]
        )
        rows.append([label, f"download {mb} MB", f"{mb / download_s:.0f} MB/s", f"→ {after_download:.0f} MB"])

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
        for _ in range(sizes.searches):
            query = " ".join(words(rng, 3))
            started = time.perf_counter()
            client.vector_stores.search(store.id, query=query, max_num_results=10)
            latencies.append((time.perf_counter() - started) * 1000)
        latencies.sort()
        p95 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))]
        rows.append([label, f"index {chunks:,} chunks", f"{index_s:.1f} s", f"→ {peak_rss_mb(pid):.0f} MB"])
        rows.append(
            [
                label,
                f"search over {chunks:,} chunks",
                f"median {statistics.median(latencies):.1f} ms, p95 {p95:.1f} ms",
                "-",
            ]
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for CI")
    parser.add_argument("--postgres", help="admin URL of a PostgreSQL server where databases may be created")
    parser.add_argument(
        "--embeddings", action="store_true", help="hybrid ranking with the scripted upstream's embeddings"
    )
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    rows: list[list[str]] = []
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        embeddings_url = None
        if args.embeddings:
            from assistdb.server.backends.scripted_upstream import ScriptedUpstream

            embeddings_url = stack.enter_context(ScriptedUpstream()).base_url
        rows += measure("SQLite", f"sqlite:///{folder / 'server.sqlite3'}", sizes, folder, embeddings_url)
        print("\n".join(" | ".join(row) for row in rows), file=sys.stderr, flush=True)
        if args.postgres:
            url = stack.enter_context(temporary_postgres_database(args.postgres))
            rows += measure("PostgreSQL", url, sizes, folder, embeddings_url)
    print_table(
        "Files and vector stores on assistdb serve", ["database", "what", "speed", "server peak RSS"], rows
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
