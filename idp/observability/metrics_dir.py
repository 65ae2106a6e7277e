"""The folder of multiprocess metrics, emptied by ``idp serve`` before its workers start.

With ``PROMETHEUS_MULTIPROC_DIR`` set, each worker process writes its metric values to
files in that folder and ``/metrics`` (served by any worker) adds them up. Values of
a previous run must not be counted again, so the folder is emptied once, before the
first worker starts. The IdP has counters and histograms only (no live gauges), so
the files of a worker that exits stay: what it counted still counts.
"""

from __future__ import annotations

import os
from pathlib import Path

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
