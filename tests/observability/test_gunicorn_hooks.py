"""The gunicorn hooks that keep multiprocess metrics honest across restarts."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from idp.observability import gunicorn_hooks


def test_on_starting_empties_the_metrics_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_123.db").write_bytes(b"stale")
    (folder / "keep.txt").write_text("not ours")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    gunicorn_hooks.on_starting(server=None)
    assert sorted(p.name for p in folder.iterdir()) == ["keep.txt"]


def test_on_starting_creates_the_folder_and_does_nothing_without_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    assert gunicorn_hooks.prepare_multiproc_dir() is None
    folder = tmp_path / "new" / "metrics"
    assert gunicorn_hooks.prepare_multiproc_dir(str(folder)) == folder and folder.is_dir()


def test_child_exit_drops_the_dead_workers_live_gauges(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    (tmp_path / "gauge_livesum_4242.db").write_bytes(b"x")
    (tmp_path / "counter_4242.db").write_bytes(b"x")
    gunicorn_hooks.child_exit(server=None, worker=SimpleNamespace(pid=4242))
    # Counters of a dead worker still count; its live gauges do not.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["counter_4242.db"]
