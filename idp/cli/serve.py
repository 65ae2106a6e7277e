"""``idp serve``: run the IdP under granian (:mod:`idp.cli.server_conf`), or Flask's reloader with ``--dev``."""

from __future__ import annotations

import os
import sys

import click

from idp.cli.base import CliError, cli, json_option, services


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True, help="Port to listen on.")
@click.option("--workers", type=click.IntRange(1, 64), default=None, help="Worker processes (default: WEB_CONCURRENCY or 2).")
@click.option("--threads", type=click.IntRange(1, 256), default=None, help="Threads per worker process (default: 4).")
@click.option("--dev", is_flag=True, help="Development server with Flask's reloader (one process, restarts on code changes).")
@json_option
def serve(host: str, port: int, workers: int | None, threads: int | None, dev: bool, as_json: bool) -> None:
    """Serve the IdP over HTTP (settings from IDP_*; run `idp init` first)."""
    svc = services()
    _require_schema(svc)
    if as_json:
        import json

        click.echo(json.dumps({"url": f"http://{_url_host(host)}:{port}", "public_url": svc.settings.public_url, "dev": dev}))
    if dev:
        _serve_dev(host, port)
        return
    from idp.cli import server_conf
    from idp.observability.metrics_dir import prepare_multiproc_dir

    # before any worker starts: values a previous run left in PROMETHEUS_MULTIPROC_DIR would be counted again
    prepare_multiproc_dir()
    argv = server_conf.argv(host, port, workers, threads)
    svc.close()
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)


def _require_schema(svc) -> None:  # type: ignore[no-untyped-def]
    from idp.storage.schema import current_revision

    if current_revision(svc.db) is None:
        raise CliError(f"the database has no schema ({svc.settings.database_url.split('@')[-1]}): run `idp init` first")


def _url_host(host: str) -> str:
    """``host`` as it goes in a URL (an IPv6 address in brackets)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _serve_dev(host: str, port: int) -> None:
    from werkzeug.serving import run_simple

    from idp import create_app

    app = create_app()
    run_simple(host, port, app, use_reloader=True, use_debugger=False, threaded=True)
