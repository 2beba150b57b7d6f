"""Run every benchmark, one after the other: ``python -m benchmarks [--quick] [--postgres URL]``.

Each script also runs on its own (``python -m benchmarks.bench_sync --help``). ``--quick`` uses
tiny sizes: CI runs it so that the scripts cannot rot; the figures it prints mean nothing.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

# Script, and whether it also measures on PostgreSQL.
SCRIPTS = [
    ("bench_server", False),
    ("bench_archive", True),
    ("bench_sync", True),
    ("bench_run_completion", True),
    ("bench_upstream_ttft", False),
    ("bench_cli", True),
    ("bench_runtime_ttft", False),
    ("bench_runtime_tools", False),
    ("bench_runtime_scaling", True),
    ("bench_runtime_memory", False),
    ("bench_files", True),
    ("bench_migrate", True),
]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for CI")
    parser.add_argument("--postgres", help="admin URL of a PostgreSQL server where databases may be created")
    parser.add_argument("--only", help="comma-separated script names, e.g. bench_sync,bench_archive")
    args = parser.parse_args()
    wanted = set(args.only.split(",")) if args.only else None
    for script, has_postgres in SCRIPTS:
        if wanted is not None and script not in wanted:
            continue
        command = [sys.executable, "-m", f"benchmarks.{script}"]
        command += ["--quick"] if args.quick else []
        command += ["--postgres", args.postgres] if args.postgres and has_postgres else []
        print(f"\n## {script}\n", flush=True)
        if subprocess.run(command).returncode != 0:
            print(f"{script} failed", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
