"""One leader per job store; status, kill and clean from outside a run."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
from conftest import DATA, runner_cwl


def _start(store: Path, tmp_path: Path, seconds: str = "60") -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cwl_runner.cli",
            "--jobstore",
            str(store),
            "--outdir",
            str(tmp_path / "out"),
            str(DATA / "sleep.cwl"),
            "--seconds",
            seconds,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        run = store / "run.json"
        if run.exists() and _job_processes(proc):
            return proc
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("the run never started its job")


def _job_processes(proc: subprocess.Popen[str]) -> list[psutil.Process]:
    def is_job(process: psutil.Process) -> bool:
        try:
            return "time.sleep" in " ".join(process.cmdline())
        except psutil.Error:  # gone, or a zombie not reaped yet
            return False

    return [p for p in psutil.Process(proc.pid).children(True) if is_job(p)]


def test_second_leader_is_refused_and_kill_stops_the_first(tmp_path):
    store = tmp_path / "store"
    leader = _start(store, tmp_path)
    jobs = _job_processes(leader)
    second = runner_cwl("--jobstore", str(store), str(DATA / "echo.cwl"), "--message", "x")
    assert second.returncode == 2
    assert f"is in use by runner-cwl pid {leader.pid}" in second.stderr
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status = runner_cwl("status", str(store))
        if "running 1" in status.stdout:
            break
        time.sleep(0.5)
    assert status.returncode == 0 and "status:    running" in status.stdout and "running 1" in status.stdout
    refused = runner_cwl("clean", str(store))
    assert refused.returncode == 1 and "stop it first" in refused.stderr
    killed = runner_cwl("kill", str(store))
    assert killed.returncode == 0, killed.stderr
    leader.wait(timeout=30)
    assert leader.returncode == 130
    assert not psutil.wait_procs(jobs, timeout=10)[1], "its jobs outlived it"
    assert json.loads((store / "run.json").read_text())["status"] == "interrupted"
    assert "interrupted" in runner_cwl("status", str(store)).stdout


def test_dead_leader_leaves_nothing_locked(tmp_path):
    store = tmp_path / "store"
    leader = _start(store, tmp_path)
    leader.send_signal(signal.SIGKILL)
    leader.wait(timeout=30)
    status = runner_cwl("status", str(store))
    assert "stopped (its leader died)" in status.stdout
    assert runner_cwl("kill", str(store)).stdout.strip().endswith("no leader is running")
    again = runner_cwl("--jobstore", str(store), str(DATA / "echo.cwl"), "--message", "x")
    assert again.returncode == 2 and "already holds a run" in again.stderr
    cleaned = runner_cwl("clean", str(store))
    assert cleaned.returncode == 0 and not store.exists()


def test_status_of_a_failed_run(tmp_path):
    store = tmp_path / "store"
    result = runner_cwl("--jobstore", str(store), "--outdir", str(tmp_path / "o"), str(DATA / "fail.cwl"))
    assert result.returncode == 1
    status = runner_cwl("status", str(store))
    assert status.returncode == 1
    assert "status:    permanentFail" in status.stdout
    assert "failed:    fail.cwl (permanentFail, exit 3)" in status.stdout
    assert runner_cwl("status", str(tmp_path / "nowhere")).returncode != 0


def test_restart_takes_over_from_a_killed_leader(tmp_path):
    store = tmp_path / "store"
    leader = _start(store, tmp_path, seconds="2")
    leader.send_signal(signal.SIGKILL)
    leader.wait(timeout=30)
    assert f"runner-cwl pid {leader.pid}" in (store / "leader.lock").read_text()  # the dead holder's name
    restart = runner_cwl(
        "--restart",
        "--keep-jobstore",
        "--jobstore",
        str(store),
        "--outdir",
        str(tmp_path / "out"),
        str(DATA / "sleep.cwl"),
        "--seconds",
        "2",
    )
    assert restart.returncode == 0, restart.stderr
    assert f"its previous leader (runner-cwl pid {leader.pid} on " in restart.stderr
    assert "is gone; taking over" in restart.stderr
    assert json.loads((store / "run.json").read_text())["attempt"] == 2


def test_store_lease_for_stores_without_flock(tmp_path):
    """The lease an S3 store uses, exercised through the JobStore interface on a local store."""
    from cwl_runner.errors import ConfigurationError, JobStoreError
    from cwl_runner.jobstore import LocalJobStore
    from cwl_runner.runstate import StoreLease

    store = LocalJobStore(str(tmp_path / "store"))
    first = StoreLease(store, ttl=2.0, settle=0.05)
    assert first.acquire() is None
    assert "runner-cwl pid" in (first.holder() or "")
    second = StoreLease(store, ttl=2.0, settle=0.05)
    try:
        second.acquire()
        raise AssertionError("a live lease was taken")
    except ConfigurationError as err:
        assert "is in use by runner-cwl pid" in str(err)
    time.sleep(0.8)
    first.renew()  # renewed after ttl/3: still ours, pushed forward
    time.sleep(1.4)
    assert first.holder() is not None  # 2.2 s after acquiring, alive thanks to the renewal
    time.sleep(1.0)  # the leader "dies": no more renewals, the lease expires
    assert first.holder() is None
    assert "runner-cwl pid" in (second.acquire() or "")  # taken over, naming the dead holder
    try:
        first.renew()  # the old leader, if it wakes up, learns it lost the store
        raise AssertionError("a lost lease was renewed")
    except JobStoreError as err:
        assert "another leader took over" in str(err)
    first.release()
    assert second.holder() is not None  # releasing a lost lease leaves the new holder's alone
    second.release()
    assert second.holder() is None and not store.exists("leader.lease")
