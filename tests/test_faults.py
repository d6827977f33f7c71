"""Faults from outside: a job killed mid-run, its worker process killed, a full disk.

Each ends retried and successful, or failed with a clear message, and the job store
stays readable (``status``) and restartable.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from conftest import DATA, runner_cwl


def _leader(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "cwl_runner.cli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _find(leader: subprocess.Popen[str], needle: str, timeout: float = 30) -> psutil.Process:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in psutil.Process(leader.pid).children(recursive=True):
            try:
                if needle in " ".join(process.cmdline()):
                    return process
            except psutil.Error:
                continue
        time.sleep(0.05)
    leader.kill()
    raise AssertionError(f"no process running {needle!r}")


@pytest.mark.parametrize("retries,succeeds", [("2", True), ("0", False)])
def test_job_killed_by_a_signal_mid_run(tmp_path, retries, succeeds):
    leader = _leader(
        "--max-system-retries", retries, "--jobstore", str(tmp_path / "store"), "--keep-jobstore",
        "--outdir", str(tmp_path / "out"), str(DATA / "sleep.cwl"), "--seconds", "1.5",
    )  # fmt: skip
    _find(leader, "time.sleep").send_signal(signal.SIGKILL)  # not ours: an operator, the OOM killer
    stdout, stderr = leader.communicate(timeout=120)
    assert "Traceback" not in stderr
    if succeeds:
        assert leader.returncode == 0, stderr
        assert "system failure (attempt 1): retrying" in stderr
        assert Path(json.loads(stdout)["times"]["path"]).exists()
    else:
        assert leader.returncode == 1
        assert "(permanentFail: system failure, 1 attempt)" in stderr
        assert "killed by signal SIGKILL (exit code -9)" in stderr


def test_worker_process_killed(tmp_path):
    store = tmp_path / "store"
    leader = _leader(
        "--worker-process", "--jobstore", str(store), "--keep-jobstore", "--outdir", str(tmp_path / "out"),
        str(DATA / "sleep.cwl"), "--seconds", "2",
    )  # fmt: skip
    job = _find(leader, "time.sleep")
    worker = _find(leader, "cwl_runner.worker")
    worker.send_signal(signal.SIGKILL)
    stdout, stderr = leader.communicate(timeout=120)
    assert leader.returncode == 0, stderr
    assert "system failure (attempt 1): retrying" in stderr
    assert not psutil.pid_exists(job.pid) or job.status() == psutil.STATUS_ZOMBIE, "the job outlived its worker"
    state = json.loads((store / "run.json").read_text())
    assert state["retries"] == {"system": 1} and state["succeeded_after_retry"] == 1


def _mount_tmpfs(path: Path, size: str) -> None:
    path.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {done.stderr.decode().strip()}")


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_full_disk_in_the_job_directory(tmp_path):
    disk = tmp_path / "disk"
    _mount_tmpfs(disk, "8m")
    try:
        store = disk / "store"
        args = ["--jobstore", str(store), "--outdir", str(tmp_path / "out"), str(DATA / "fill.cwl"), "--mb", "12"]
        full = runner_cwl("--max-system-retries", "1", *args)
        assert full.returncode == 1
        assert "Traceback" not in full.stderr
        assert "(permanentFail: system failure, 2 attempts)" in full.stderr
        assert "no space left on the disk of " in full.stderr
        # the store is intact: run.json is whole JSON, status reads it
        json.loads((store / "run.json").read_text())
        status = runner_cwl("status", str(store))
        assert status.returncode == 1 and "status:    " in status.stdout
        # room made: the run restarts and finishes
        subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
        restart = runner_cwl("--restart", *args)
        assert restart.returncode == 0, restart.stderr
        assert json.loads(restart.stdout)["big"]["size"] == 12 * 2**20
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)
