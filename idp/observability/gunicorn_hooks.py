"""gunicorn server hooks for metrics with several worker processes.

With ``PROMETHEUS_MULTIPROC_DIR`` set, each worker writes its metric values to
files in that folder and ``/metrics`` (served by any worker) adds them up. The
master must empty the folder when it starts (values of a previous run would be
counted again) and tidy up after a worker exits. ``deploy/gunicorn.conf.py``
calls these hooks from its own::

    from idp.observability import gunicorn_hooks

    def on_starting(server):
        gunicorn_hooks.on_starting(server)

    def child_exit(server, worker):
        gunicorn_hooks.child_exit(server, worker)

This module is also a complete gunicorn configuration by itself
(``gunicorn -c python:idp.observability.gunicorn_hooks ...``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_multiproc_dir(path: str | None = None) -> Path | None:
    """Create the metrics folder and remove values left by an earlier run; None when not in multiprocess mode."""
    path = path or os.environ.get(MULTIPROC_ENV)
    if not path:
        return None
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink(missing_ok=True)
    return folder


def on_starting(server: Any) -> None:
    """gunicorn hook, in the master before the first worker forks."""
    prepare_multiproc_dir()


def child_exit(server: Any, worker: Any) -> None:
    """gunicorn hook, in the master after a worker exits: drop the dead worker's live gauges."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
