"""Stopping a run: SIGTERM or Ctrl-C stop its jobs and exit cleanly."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import psutil
import pytest
from conftest import DATA


def _cmdline(proc: psutil.Process) -> list[str]:
    """A child's command line; nothing for one that ended meanwhile (a zombie, or gone)."""
    try:
        return proc.cmdline()
    except psutil.Error:
        return []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_running_jobs(tmp_path, sig):
    proc = subprocess.Popen(
        [sys.executable, "-m", "cwl_runner.cli", "--outdir", str(tmp_path), str(DATA / "sleep.cwl"), "--seconds", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    leader = psutil.Process(proc.pid)
    deadline = time.monotonic() + 30
    jobs: list[psutil.Process] = []
    while time.monotonic() < deadline and not jobs:
        jobs = [p for p in leader.children(recursive=True) if "time.sleep" in " ".join(_cmdline(p))]
        time.sleep(0.1)
    assert jobs, "the job never started"
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "interrupted" in stderr and "Traceback" not in stderr
    gone, alive = psutil.wait_procs(jobs, timeout=10)
    assert not alive, "the job outlived its leader"
