"""``assistdb serve``: run the local Assistants v2 server in the foreground."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

RATE = click.FloatRange(0.0, 1.0)
SECONDS = click.FloatRange(min=0.0)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8787, show_default=True, help="Port; 0 picks a free one."
)
@click.option(
    "--api-key",
    envvar="ASSISTDB_SERVER_API_KEY",
    help="Require this bearer key [env ASSISTDB_SERVER_API_KEY].",
)
@click.option(
    "--run-latency", type=SECONDS, default=0.5, show_default=True, help="Seconds each run phase takes."
)
@click.option(
    "--poll-after-ms",
    type=click.IntRange(min=0),
    default=1000,
    show_default=True,
    help="openai-poll-after-ms header.",
)
@click.option(
    "--run-expiry",
    type=click.FloatRange(min=0.0, min_open=True),
    default=600.0,
    show_default=True,
    help="Seconds before a waiting run expires.",
)
@click.option(
    "--fault-rate",
    type=RATE,
    default=0.0,
    show_default=True,
    help="Share of /v1 requests answered with an error.",
)
@click.option(
    "--rate-limit-share", type=RATE, default=1 / 3, show_default="1/3", help="Share of faults that are 429s."
)
@click.option(
    "--latency", type=SECONDS, default=0.0, show_default=True, help="Seconds added to every /v1 response."
)
@click.option(
    "--spike-rate", type=RATE, default=0.0, show_default=True, help="Share of responses delayed by --spike."
)
@click.option(
    "--spike", type=SECONDS, default=1.0, show_default=True, help="Extra seconds of a latency spike."
)
@click.option("--seed", type=int, default=None, help="Make IDs and faults reproducible.")
@click.option(
    "--state",
    "state_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Persist state to this JSONL journal.",
)
def serve(
    host: str,
    port: int,
    api_key: str | None,
    run_latency: float,
    poll_after_ms: int,
    run_expiry: float,
    fault_rate: float,
    rate_limit_share: float,
    latency: float,
    spike_rate: float,
    spike: float,
    seed: int | None,
    state_file: Path | None,
) -> None:
    """Serve a local, offline Assistants v2 API (`assistdb docs server` describes it)."""
    from assistdb.server.app import AssistantsApp
    from assistdb.server.config import ServerConfig
    from assistdb.server.serving import ServingServer, bind_socket

    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    config = ServerConfig(
        host=host,
        port=port,
        api_key=api_key or None,
        run_latency=run_latency,
        poll_after_ms=poll_after_ms,
        run_expiry=run_expiry,
        fault_rate=fault_rate,
        rate_limit_share=rate_limit_share,
        latency=latency,
        spike_rate=spike_rate,
        spike=spike,
        seed=seed,
        state_file=state_file,
    )
    try:
        sock = bind_socket(host, port)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    try:
        app = AssistantsApp(config, owns_process=True)
    except OSError as exc:
        sock.close()
        raise click.ClickException(
            f"cannot open the state file {state_file}: {exc.strerror or exc}"
        ) from None
    bound_port = sock.getsockname()[1]
    shown_host = f"[{host}]" if ":" in host else host

    def announce() -> None:
        click.echo(f"assistdb server listening on http://{shown_host}:{bound_port}/v1")
        sys.stdout.flush()

    ServingServer(app, on_started=announce).run(sockets=[sock])
