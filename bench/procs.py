"""Processes under test: start, wait, sample CPU time and RSS from /proc, stop (always)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            try:
                out += [int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
            except OSError:
                pass
    except OSError:
        pass
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` and its direct children (a server's main process and its workers), seconds."""
    total = 0
    for p in [pid, *children(pid)]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / CLK_TCK


def rss_mb(pids: Sequence[int]) -> list[float]:
    """Resident set size of each process, MiB."""
    out = []
    for p in pids:
        try:
            out.append(int(Path(f"/proc/{p}/statm").read_text().split()[1]) * PAGE / 2**20)
        except (OSError, IndexError, ValueError):
            pass
    return out


def wait_http(url: str, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> None:  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except Exception as exc:
            last = exc
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f}s: {last}")


class Server:
    """One server process (the IdP's main process with its workers, or node) started by the bench, in its own session."""

    def __init__(self, name: str, argv: Sequence[str], env: dict[str, str], log: Path, cwd: str | None = None) -> None:
        self.name = name
        self.log = log
        self._logf = open(log, "ab")  # noqa: SIM115 - open for the process's lifetime, closed in stop()
        self.proc = subprocess.Popen(
            list(argv), env=env, stdout=self._logf, stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def workers(self) -> list[int]:
        return children(self.pid)

    def stop(self) -> None:
        """SIGTERM the process group this bench created, then SIGKILL what is left after 10 s."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(5)
        self._logf.close()


def start_idp(env: dict[str, str], port: int, workers: int, log: Path) -> Server:
    """``idp serve`` (granian, ``idp/cli/server_conf.py``) with ``workers`` worker processes."""
    full = {**os.environ, **env}
    argv = [sys.executable, "-m", "idp.cli", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    return Server("idp", argv, full, log)
