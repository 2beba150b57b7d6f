"""``assistdb serve``: run the Assistants v2 server in the foreground."""

from __future__ import annotations

import ipaddress
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from assistdb.errors import InvalidInputError

if TYPE_CHECKING:
    from assistdb.server.backends.chat_completions import UpstreamSettings

API_KEY_ENV = "ASSISTDB_SERVER_API_KEY"

RATE = click.FloatRange(0.0, 1.0)
SECONDS = click.FloatRange(min=0.0)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8787, show_default=True, help="Port; 0 picks a free one."
)
@click.option(
    "--api-key",
    "api_key_argument",
    hidden=True,
    help="Refused: a key on the command line shows in ps; set ASSISTDB_SERVER_API_KEY instead.",
)
@click.option(
    "--database-url",
    envvar="ASSISTDB_SERVER_DATABASE_URL",
    default=None,
    help="SQLite or PostgreSQL URL of the server's state [env ASSISTDB_SERVER_DATABASE_URL; "
    "default: server.sqlite3 in the user data dir].",
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
    "--lease-seconds",
    type=click.FloatRange(min=0.0, min_open=True),
    default=10.0,
    show_default=True,
    help="How long a process's claim on a run lasts before another process may take the run over.",
)
@click.option(
    "--sweep-interval",
    type=click.FloatRange(min=0.0, min_open=True),
    default=1.0,
    show_default=True,
    help="Seconds between two looks for runs to expire or take over.",
)
@click.option(
    "--model",
    "model_source",
    type=click.Choice(["scripted", "upstream"]),
    default=None,
    help="What answers runs: the scripted model, or a Chat Completions endpoint "
    "[default: upstream when --upstream-url, --upstream-config or ASSISTDB_UPSTREAM_URL is set].",
)
@click.option(
    "--upstream-url",
    default=None,
    help="Base URL of any OpenAI-compatible Chat Completions endpoint, e.g. http://127.0.0.1:11434/v1 "
    "(its key only from ASSISTDB_UPSTREAM_API_KEY or OPENAI_API_KEY).",
)
@click.option(
    "--upstream-config",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="TOML file with an [upstream] table (see docs/server.md).",
)
@click.option(
    "--model-map",
    default=None,
    help="Assistant model names to upstream ones, e.g. 'gpt-4o=llama3.2,*=llama3.2'.",
)
@click.option(
    "--upstream-timeout",
    type=click.FloatRange(min=0.0, min_open=True),
    default=None,
    help="Seconds to wait for the upstream to connect and for each piece of an answer [default: 60].",
)
@click.option(
    "--upstream-retries",
    type=click.IntRange(min=0),
    default=None,
    help="Retries of a failed upstream request (429, 5xx, connection) [default: 3].",
)
@click.option(
    "--embedding-model",
    default=None,
    help="The upstream's /embeddings model for hybrid (lexical + embedding) file search "
    "[default: none, lexical only].",
)
@click.option(
    "--max-runs",
    type=click.IntRange(min=0),
    default=None,
    help="Most runs this process drives at once; 0 serves the API and leaves runs to other processes.",
)
@click.option(
    "--state",
    "state_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    hidden=True,
    help="Refused: the state lives in the database now (--database-url).",
)
def serve(
    host: str,
    port: int,
    api_key_argument: str | None,
    database_url: str | None,
    run_latency: float,
    poll_after_ms: int,
    run_expiry: float,
    fault_rate: float,
    rate_limit_share: float,
    latency: float,
    spike_rate: float,
    spike: float,
    seed: int | None,
    lease_seconds: float,
    sweep_interval: float,
    model_source: str | None,
    upstream_url: str | None,
    upstream_config: Path | None,
    model_map: str | None,
    upstream_timeout: float | None,
    upstream_retries: int | None,
    embedding_model: str | None,
    max_runs: int | None,
    state_file: Path | None,
) -> None:
    """Serve the Assistants v2 API over SQLite or PostgreSQL; `assistdb docs server` explains."""
    import os

    from assistdb.server.app import AssistantsApp
    from assistdb.server.config import ServerConfig
    from assistdb.server.serving import ServingServer, bind_socket
    from assistdb.server.storage import default_server_database_url

    if api_key_argument is not None:
        raise InvalidInputError(
            "--api-key is refused: a key on the command line is visible to every user through ps",
            hint=f"set {API_KEY_ENV} in the environment instead",
        )
    if state_file is not None:
        refuse_state_file(state_file)
    api_key = os.environ.get(API_KEY_ENV) or None
    upstream = upstream_settings(
        model_source,
        upstream_url,
        upstream_config,
        model_map,
        upstream_timeout,
        upstream_retries,
        embedding_model,
    )
    configure_logging(api_key, upstream, database_url)
    if api_key is None and not is_loopback(host):
        click.echo(
            f"WARNING: listening on {host} without an API key: anyone who can reach this address can read "
            f"and change every thread. Set {API_KEY_ENV}.",
            err=True,
        )
    config = ServerConfig(
        host=host,
        port=port,
        api_key=api_key,
        database_url=database_url or default_server_database_url(),
        lease_seconds=lease_seconds,
        sweep_interval=sweep_interval,
        max_runs=max_runs,
        upstream=upstream,
        run_latency=run_latency,
        poll_after_ms=poll_after_ms,
        run_expiry=run_expiry,
        fault_rate=fault_rate,
        rate_limit_share=rate_limit_share,
        latency=latency,
        spike_rate=spike_rate,
        spike=spike,
        seed=seed,
    )
    try:
        sock = bind_socket(host, port)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    try:
        app = AssistantsApp(config)
    except BaseException:
        sock.close()
        raise
    bound_port = sock.getsockname()[1]
    shown_host = f"[{host}]" if ":" in host else host

    log = logging.getLogger("assistdb.server")
    log.info("state in %s", app.store.database.display_url)
    if upstream is not None:
        log.info("runs are answered by the Chat Completions endpoint at %s", upstream.location)
        if upstream.embedding_model is not None:
            log.info("file search ranks with embeddings from model %r", upstream.embedding_model)
    else:
        log.info("runs are answered by the scripted model (see docs/server.md)")

    def announce() -> None:
        click.echo(f"assistdb server listening on http://{shown_host}:{bound_port}/v1")
        sys.stdout.flush()

    ServingServer(app, on_started=announce).run(sockets=[sock])


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def refuse_state_file(path: Path) -> None:
    """``--state`` journals are gone; say so without reading more than a line or touching the file."""
    if not path.exists():
        raise InvalidInputError(
            "--state is no longer supported: the server keeps its state in a database",
            hint="drop --state, or pass --database-url to choose where the state lives",
        )
    if _looks_like_journal(path):
        raise InvalidInputError(
            f"{path} is a state journal of an older assistdb serve; journals are no longer read "
            "(the file was left untouched)",
            hint="drop --state; the state now lives in the database given by --database-url",
        )
    raise InvalidInputError(
        f"{path} is not an assistdb state file; it was left untouched",
        hint="drop --state; the state now lives in the database given by --database-url",
    )


def _looks_like_journal(path: Path) -> bool:
    import json

    try:
        with path.open("r", encoding="utf-8") as handle:
            first = json.loads(handle.readline())
    except (OSError, ValueError):
        return False
    return isinstance(first, dict) and first.get("op") in ("put", "del") and "kind" in first


def upstream_settings(
    model_source: str | None,
    url: str | None,
    config_file: Path | None,
    model_map: str | None,
    timeout: float | None,
    retries: int | None,
    embedding_model: str | None,
) -> UpstreamSettings | None:
    """The upstream's settings (file, then environment, then options), or None for the scripted model."""
    from assistdb.server.backends.chat_completions import (
        UpstreamConfigError,
        UpstreamSettings,
        parse_model_map,
    )

    try:
        settings = UpstreamSettings.load(config_file)
        settings = settings.updated(
            {
                "base_url": url,
                "model_map": parse_model_map(model_map) if model_map is not None else None,
                "timeout": timeout,
                "max_retries": retries,
                "embedding_model": embedding_model,
            }
        )
    except UpstreamConfigError as exc:
        raise InvalidInputError(str(exc), hint="see 'assistdb serve --help' and docs/server.md") from None
    chosen = model_source or (
        "upstream" if settings.base_url or settings.is_azure or config_file is not None else "scripted"
    )
    if chosen == "scripted":
        if url or config_file or model_map or embedding_model:
            raise InvalidInputError(
                "--upstream-url, --upstream-config, --model-map and --embedding-model need --model upstream",
                hint="drop --model scripted, or the upstream options",
            )
        return None
    try:
        settings.client()
    except UpstreamConfigError as exc:
        raise InvalidInputError(str(exc), hint="see docs/server.md, 'Chat Completions backend'") from None
    return settings


def configure_logging(
    api_key: str | None, upstream: UpstreamSettings | None, database_url: str | None
) -> None:
    """Log to stderr with every credential the process knows masked, whoever logs the line (the
    HTTP client logs request URLs, which may carry ``user:password@``)."""
    from urllib.parse import urlsplit

    from assistdb import secrets

    for secret in (api_key, upstream.api_key if upstream else None):
        secrets.register(secret)
    for url in (
        upstream.base_url if upstream else None,
        upstream.azure_endpoint if upstream else None,
        database_url,
    ):
        if url:
            try:
                secrets.register(urlsplit(url).password)
            except ValueError:
                continue
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(secrets.RedactingFilter())
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    # One line per upstream request (the SDK's HTTP client: httpx, httpx2 since openai 3.57) and
    # per Alembic plugin at start: noise beside the server's own log.
    for chatty in ("httpx", "httpx2", "alembic.runtime.plugins"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
